/** A function run at most once: later calls return the first call's result (an idempotent stop's one promise). */
export function once<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  let ran: { readonly value: R } | undefined;
  return (...args: A): R => {
    ran ??= { value: fn(...args) };
    return ran.value;
  };
}
