/**
 * The throughput and scaling scenarios (hol is in hol.ts, startup in
 * startup.ts). Each is bounded in time, counts lost responses and errors,
 * and returns plain data for the report.
 */
import { spawn } from 'node:child_process';
import { Histogram, closedLoop, type ClosedLoopResult } from './load.js';
import { startDispatchd, startEchoServer, startPiscinaServer, type Proc } from './procs.js';
import { havePython, startBaseline } from './baseline.js';
import { nextParams, type CallSpec } from './calls.js';
import { preflight } from './preflight.js';
import { ROUNDS } from './rounds.js';
import { addCodes } from './wire-error.js';
import type { Progress } from './types.js';


export interface ThroughputRow {
  readonly target: string;
  readonly connections: number;
  readonly pipeline: number;
  readonly result: ClosedLoopResult;
}


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
  const acc = new Map(targets.map((t) => [t.name, { hist: new Histogram(), calls: 0, errors: 0, codes: {} as Record<string, number>, lost: 0, seconds: 0 }]));
  // Warm each (JIT, threads) before anything is counted.
  for (const t of targets) await closedLoop(t.socket, { ...o, ms: Math.min(500, o.ms / 4) });
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(k + round) % targets.length] as (typeof targets)[number];
      const a = acc.get(t.name) as NonNullable<ReturnType<typeof acc.get>>;
      const r = await closedLoop(t.socket, { ...o, ms: o.ms / ROUNDS, hist: a.hist, onTick: (f) => progress(t.name, (round + f) / ROUNDS) });
      a.calls += r.calls;
      a.errors += r.errors;
      addCodes(a.codes, r.codes);
      a.lost += r.lost;
      a.seconds += r.seconds;
    }
  }
  return new Map(
    [...acc].map(([name, a]) => [name, { calls: a.calls, errors: a.errors, codes: a.codes, lost: a.lost, seconds: a.seconds, callsPerSec: Math.round(a.calls / a.seconds), latency: a.hist.summary() }]),
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

/**
 * Trivial calls at C connections × P in flight. Against the project's own
 * daemon (no `targets`): dispatchd beside the inline echo ceiling, a minimal
 * piscina server and the asyncio baseline. Against a user's targets: those
 * (one, or one and its baseline), with the user's call, nothing else.
 */
export async function throughput(
  o: { targets?: readonly (readonly [string, () => Promise<Proc>])[]; settings: readonly (readonly [number, number])[]; ms: number; call: CallSpec },
  progress: Progress,
): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  const targets: (readonly [string, () => Promise<Proc>])[] = o.targets ? [...o.targets] : [['dispatchd', () => startDispatchd()]];
  if (!o.targets) {
    targets.push(['inline-echo', () => startEchoServer()]);
    // What any piscina server gets on this machine: one thread hop per call, nothing else.
    targets.push(['piscina-minimal', () => startPiscinaServer()]);
    // The original's shape, measured in the same run.
    if (havePython()) targets.push(['asyncio-to_thread', () => startBaseline()]);
  }
  await withAll(targets, async (procs) => {
    for (const p of procs) await preflight(p.socket, p.name, [['--fast-call', o.call]]);
    for (const [c, pl] of o.settings) {
      const params = o.call.template === undefined ? o.call.params : () => nextParams(o.call);
      const results = await interleaved(procs, { connections: c, pipeline: pl, ms: o.ms, method: o.call.method, params }, (name, f) => progress(`throughput C=${c} P=${pl} (${name})`, f));
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
