/**
 * The `idle` scenario (not in the default run, ~1 min): what an idle
 * daemon holds fresh and after it has worked. A fresh dispatchd on the
 * fixture with `--thread-idle-ms 1000`; its RSS 1.5 s after start; then
 * 8 000 calls over 10 connections (echo, a 1 ms sleep, a little CPU, in
 * turn); then quiet until the pool is back at its two threads and the
 * memory has been given back (docs/pool.md, "Idle memory after use") and
 * the resident set has settled (no drop over 1 MiB for 10 s: V8 frees some
 * pages 8 s late); then its RSS. The same with `--quiet-release off`, in
 * the same run.
 */
import { LoadConn } from './load.js';
import { rssMiB, startDispatchd } from './procs.js';
import { sleep, within } from './timers.js';
import { errorCode } from './wire-error.js';
import type { Progress } from './types.js';

const CALLS = 8000;
const CONNECTIONS = 10;
/** The resident set has settled when it has not dropped by more than 1 MiB for this long (V8 frees some pages 8 s late). */
const SETTLE_MS = 10_000;
const SETTLE_LIMIT_MS = 60_000;
const QUIET_LIMIT_MS = 60_000;
/** The 8 000 calls take ~3 s here; a daemon that stalls fails the scenario instead of holding it. */
const WORK_LIMIT_MS = 60_000;
const CONTROL_LIMIT_MS = 5000;

export interface IdleRow {
  readonly quietRelease: 'on' | 'off';
  readonly freshMiB: number | null;
  readonly afterUseMiB: number | null;
  readonly releases: number;
}

interface PoolView {
  readonly threads_started: number;
  readonly threads_kept_warm: number;
}

/** `p`, or an error naming `what` after `ms`. */
async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(await within(p, ms))) throw new Error(`${what}: no answer within ${ms} ms`);
  return p;
}

async function statusOf(c: LoadConn): Promise<{ pool: PoolView; releases: number }> {
  const m = (await bounded(c.control({ type: 'status' }), CONTROL_LIMIT_MS, 'status')).msg as { pool: PoolView; memory: { quiet_releases?: number } };
  return { pool: m.pool, releases: m.memory.quiet_releases ?? 0 };
}

async function work(socket: string): Promise<void> {
  const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => LoadConn.open(socket)));
  const calls: [string, unknown][] = [
    ['echo', { x: 'y'.repeat(200) }],
    ['sleep', { ms: 1 }],
    ['cpu', { iterations: 20_000 }],
  ];
  let n = 0;
  let errors = 0;
  try {
    const all = Promise.all(
      conns.map(async (c) => {
        while (n < CALLS) {
          const [method, params] = calls[n++ % calls.length] as [string, unknown];
          if (errorCode((await c.call(method, params)).msg) !== null) errors++;
        }
      }),
    );
    await bounded(all, WORK_LIMIT_MS, `${CALLS} calls`);
  } finally {
    for (const c of conns) c.close();
  }
  if (errors > 0) throw new Error(`${errors} of ${CALLS} calls were answered with an error`);
}

/** The resident set once it has stopped falling (MiB), sampled every 500 ms. */
async function settled(pid: number): Promise<number | null> {
  const t0 = performance.now();
  let low = rssMiB(pid);
  let since = performance.now();
  while (low !== null && performance.now() - since < SETTLE_MS && performance.now() - t0 < SETTLE_LIMIT_MS) {
    await sleep(500);
    const now = rssMiB(pid);
    if (now === null) return null;
    if (now < low - 1) since = performance.now();
    low = Math.min(low, now);
  }
  return rssMiB(pid);
}

async function one(quietRelease: 'on' | 'off', progress: (frac: number) => void): Promise<IdleRow> {
  const d = await startDispatchd(['--thread-idle-ms', '1000', '--quiet-release', quietRelease]);
  try {
    await sleep(1500);
    const freshMiB = rssMiB(d.pid);
    progress(0.1);
    await work(d.socket);
    progress(0.5);
    const control = await LoadConn.open(d.socket);
    try {
      // Quiet until the pool keeps only its quiet floor (the demand window is 10 periods).
      const t0 = performance.now();
      let s = await statusOf(control);
      while (s.pool.threads_started > 2 || s.pool.threads_kept_warm > 1) {
        if (performance.now() - t0 > QUIET_LIMIT_MS) throw new Error(`the pool did not come back to two threads within ${QUIET_LIMIT_MS} ms: ${JSON.stringify(s.pool)}`);
        await sleep(250);
        s = await statusOf(control);
      }
      progress(0.8);
      // The release comes one period after the last retirement; what V8 frees by itself comes up to
      // ~8 s after that (its memory reducer, and on Node 24+ an exited thread's pooled pages). Idle is
      // when the resident set has settled: no drop over 1 MiB in SETTLE_MS.
      const settledMiB = await settled(d.pid);
      const after = await statusOf(control);
      return { quietRelease, freshMiB, afterUseMiB: settledMiB, releases: after.releases };
    } finally {
      control.close();
    }
  } finally {
    await d.stop();
  }
}

export async function idle(progress: Progress): Promise<IdleRow[]> {
  const rows: IdleRow[] = [];
  for (const [k, mode] of (['on', 'off'] as const).entries()) rows.push(await one(mode, (f) => progress(`idle: quiet-release ${mode}`, (k + f) / 2)));
  progress('idle', 1);
  return rows;
}
