/**
 * The load scenarios (startup is in startup.ts). Each is bounded in time, counts lost responses and
 * errors, and returns plain data for the report.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Histogram, LoadConn, closedLoop, type ClosedLoopResult, type Percentiles } from './load.js';
import { startDispatchd, startEchoServer, startPiscinaServer, withProc, type Proc } from './procs.js';
import { havePython, startBaseline } from './pool-bench.js';

export type Progress = (label: string, frac: number) => void;

export interface HolResult {
  readonly target: string;
  readonly status: Percentiles;
  readonly echo: Percentiles;
  readonly slowCallsPerSec: number;
  readonly slowCalls: number;
  readonly lost: number;
  readonly errors: number;
}

export interface HolOptions {
  readonly connections: number;
  readonly slowMs: number;
  readonly intervalMs: number;
  readonly ms: number;
  readonly slowMethod: string;
  readonly fastMethod: string;
}

/** K connections of slow calls back-to-back; a probe sends status, then a fast call, every interval. */
export async function holAgainst(socket: string, target: string, o: HolOptions, progress: Progress): Promise<HolResult> {
  const slow = await Promise.all(Array.from({ length: o.connections }, () => LoadConn.open(socket)));
  const probe = await LoadConn.open(socket);
  const status = new Histogram();
  const echo = new Histogram();
  let stop = false;
  let slowDone = 0;
  const loops = slow.map(async (c) => {
    while (!stop) {
      await c.call(o.slowMethod, { ms: o.slowMs });
      slowDone++;
    }
  });
  await new Promise((r) => setTimeout(r, Math.min(500, o.slowMs * 3))); // let the slow calls saturate first
  const t0 = performance.now();
  const startDone = slowDone;
  while (performance.now() - t0 < o.ms) {
    status.record((await probe.control({ type: 'status' })).ms);
    echo.record((await probe.call(o.fastMethod, { probe: true })).ms);
    progress(`hol ${target}`, (performance.now() - t0) / o.ms);
    await new Promise((r) => setTimeout(r, o.intervalMs));
  }
  const seconds = (performance.now() - t0) / 1000;
  const slowCalls = slowDone - startDone;
  stop = true;
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 10_000))]);
  const all = [...slow, probe];
  const lost = all.reduce((n, c) => n + c.sent - c.answered, 0);
  const errors = all.reduce((n, c) => n + c.errors, 0);
  for (const c of all) c.close();
  return { target, status: status.summary(), echo: echo.summary(), slowCallsPerSec: Math.round((slowCalls / seconds) * 10) / 10, slowCalls, lost, errors };
}

export async function hol(o: HolOptions & { socket?: string; threads?: number; variants: readonly string[] }, progress: Progress): Promise<HolResult[]> {
  if (o.socket) return [await holAgainst(o.socket, 'external', o, progress)];
  const out: HolResult[] = [];
  for (const variant of o.variants) {
    const nice = /^pool-nice-(\d+)$/.exec(variant);
    const flags = variant === 'inline' ? ['--inline'] : variant === 'pool-no-lanes' ? ['--fast-threads', '0'] : nice ? ['--slow-nice', nice[1] as string] : [];
    const started = startDispatchd([...flags, ...(o.threads ? ['--threads', String(o.threads)] : [])]);
    out.push(await withProc(started, (d) => holAgainst(d.socket, variant, o, progress)));
  }
  return out;
}

export interface ThroughputRow {
  readonly target: string;
  readonly connections: number;
  readonly pipeline: number;
  readonly result: ClosedLoopResult;
}

/** Rounds each measurement is split into, alternating between the targets compared. */
const ROUNDS = 3;

/**
 * Measures `targets` in alternating rounds (the order rotating each round)
 * and sums each target's rounds. The machine is shared (other processes, a
 * VM's neighbours): measured one after another, a ratio between two targets
 * also measures how the machine's load moved in between (the inline echo
 * ceiling moved 2× between runs); alternating spreads that drift over both.
 */
async function interleaved(
  targets: readonly { readonly name: string; readonly socket: string }[],
  o: { connections: number; pipeline: number; ms: number; method: string; params: unknown },
  progress: (name: string, frac: number) => void,
): Promise<Map<string, ClosedLoopResult>> {
  const acc = new Map(targets.map((t) => [t.name, { hist: new Histogram(), calls: 0, errors: 0, lost: 0, seconds: 0 }]));
  // Warm each (JIT, threads) before anything is counted.
  for (const t of targets) await closedLoop(t.socket, { ...o, ms: Math.min(500, o.ms / 4) });
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(k + round) % targets.length] as (typeof targets)[number];
      const a = acc.get(t.name) as NonNullable<ReturnType<typeof acc.get>>;
      const r = await closedLoop(t.socket, { ...o, ms: o.ms / ROUNDS, hist: a.hist, onTick: (f) => progress(t.name, (round + f) / ROUNDS) });
      a.calls += r.calls;
      a.errors += r.errors;
      a.lost += r.lost;
      a.seconds += r.seconds;
    }
  }
  return new Map(
    [...acc].map(([name, a]) => [name, { calls: a.calls, errors: a.errors, lost: a.lost, seconds: a.seconds, callsPerSec: Math.round(a.calls / a.seconds), latency: a.hist.summary() }]),
  );
}

/** Starts every target, runs `fn` with their sockets, and stops them all, whatever happens. */
async function withAll<T>(starts: readonly (readonly [string, () => Promise<Proc>])[], fn: (procs: { name: string; socket: string }[]) => Promise<T>): Promise<T> {
  const started: Proc[] = [];
  try {
    const named: { name: string; socket: string }[] = [];
    for (const [name, start] of starts) {
      const p = await start();
      started.push(p);
      named.push({ name, socket: p.socket });
    }
    return await fn(named);
  } finally {
    await Promise.all(started.map((p) => p.stop()));
  }
}

export async function throughput(
  o: { socket?: string; settings: readonly (readonly [number, number])[]; ms: number; method: string; ceiling: boolean },
  progress: Progress,
): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  const targets: [string, () => Promise<Proc>][] = o.socket
    ? [['external', async () => ({ socket: o.socket as string, pid: 0, stop: async () => {} })]]
    : [['dispatchd', () => startDispatchd()]];
  if (o.ceiling) {
    targets.push(['inline-echo', () => startEchoServer()]);
    // What any piscina server gets on this machine: one thread hop per call, nothing else.
    targets.push(['piscina-minimal', () => startPiscinaServer()]);
  }
  // The original's shape, measured in the same run.
  if (o.ceiling && havePython()) targets.push(['asyncio-to_thread', () => startBaseline()]);
  await withAll(targets, async (procs) => {
    for (const [c, pl] of o.settings) {
      const results = await interleaved(procs, { connections: c, pipeline: pl, ms: o.ms, method: o.method, params: { x: 1 } }, (name, f) => progress(`throughput C=${c} P=${pl} (${name})`, f));
      for (const p of procs) rows.push({ target: p.name, connections: c, pipeline: pl, result: results.get(p.name) as ClosedLoopResult });
    }
  });
  return rows;
}

export interface ScalingRow {
  readonly threads: number;
  readonly workPerSec: number;
  readonly speedup: number;
  readonly callsPerSec: number;
  readonly lost: number;
  readonly errors: number;
  /** The machine's own figure in the same rounds: this many plain node processes running the same loop, speed-up over one. */
  readonly bareSpeedup: number;
}

/** The `cpu` method's loop in `n` plain node processes for `ms`: iterations per second, summed. */
async function bareWork(n: number, ms: number, iterations: number): Promise<number> {
  const code = `const n=${iterations},end=Date.now()+${Math.round(ms)};let c=0;while(Date.now()<end){let h=0x811c9dc5;for(let i=0;i<n;i++)h=Math.imul(h^i,0x01000193);c++}process.stdout.write(String(c))`;
  const counts = await Promise.all(
    Array.from({ length: n }, () => {
      const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
      const kill = setTimeout(() => child.kill('SIGKILL'), ms + 10_000);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      return new Promise<number>((resolve) =>
        child.once('close', () => {
          clearTimeout(kill);
          resolve(Number(out) || 0);
        }),
      );
    }),
  );
  return (counts.reduce((a, b) => a + b, 0) * iterations) / (ms / 1000);
}

export async function scaling(o: { maxThreads: number; ms: number; iterations: number }, progress: Progress): Promise<ScalingRow[]> {
  const counts = Array.from({ length: o.maxThreads }, (_, i) => i + 1);
  // One daemon per thread count (2 connections per thread), measured in alternating rounds like `interleaved`.
  return withAll(
    counts.map((t) => [String(t), () => startDispatchd(['--threads', String(t)])] as const),
    async (procs) => {
      const acc = counts.map(() => ({ calls: 0, seconds: 0, lost: 0, errors: 0, bare: 0 }));
      const load = (i: number, ms: number, hist?: Histogram): Promise<ClosedLoopResult> =>
        closedLoop((procs[i] as (typeof procs)[number]).socket, { connections: (i + 1) * 2, pipeline: 1, ms, method: 'cpu', params: { iterations: o.iterations }, ...(hist ? { hist } : {}) });
      for (const i of counts.keys()) await load(i, Math.min(500, o.ms / 4)); // warm: threads, JIT, the method's kind
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < counts.length; k++) {
          const i = (k + round) % counts.length;
          progress(`scaling ${i + 1} thread(s)`, round / ROUNDS);
          const r = await load(i, o.ms / ROUNDS);
          const a = acc[i] as (typeof acc)[number];
          a.calls += r.calls;
          a.seconds += r.seconds;
          a.lost += r.lost;
          a.errors += r.errors;
          // The machine alone, right after: as many plain processes as threads, a third of the time.
          a.bare += await bareWork(i + 1, o.ms / ROUNDS / 3, o.iterations);
        }
      }
      const rows: ScalingRow[] = [];
      for (const [i, a] of acc.entries()) {
        const callsPerSec = Math.round(a.calls / a.seconds);
        const workPerSec = Math.round((a.calls / a.seconds) * o.iterations);
        const bareSpeedup = Math.round((a.bare / (acc[0] as (typeof acc)[number]).bare) * 100) / 100;
        rows.push({ threads: i + 1, workPerSec, speedup: rows[0] ? Math.round((workPerSec / rows[0].workPerSec) * 100) / 100 : 1, callsPerSec, lost: a.lost, errors: a.errors, bareSpeedup });
      }
      return rows;
    },
  );
}
