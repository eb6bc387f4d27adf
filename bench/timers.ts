/**
 * Waiting without leaving timers behind. A `setTimeout` raced against a
 * promise keeps the process alive until it fires even after the race is
 * won, so the bench would print its report and then sit for seconds; every
 * wait here clears its timer.
 */

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `p` at most `ms`; true when it settled in time. The timer is cleared either way. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true, () => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
