/**
 * The load scenarios (startup is in startup.ts). Each is bounded in time, counts lost responses and
 * errors, and returns plain data for the report.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Histogram, LoadConn, closedLoop, type ClosedLoopResult, type Percentiles } from './load.js';
import { startDispatchd, startEchoServer, startPiscinaServer, type Proc } from './procs.js';
import { havePython, startBaseline } from './pool-bench.js';
import { openLoop, type OpenLoopResult } from './openloop.js';
import { nextParams, showCall, type CallSpec } from './calls.js';
import { BenchUsageError } from './failures.js';
import { sleep, within } from './timers.js';
import { addCodes, errorCode } from './wire-error.js';
import type { Progress } from './types.js';

/** Rounds each measurement is split into, alternating between the targets compared. */
const ROUNDS = 3;

export interface HolResult {
  readonly target: string;
  /** Closed-loop probe (send, wait for the answer, sleep the interval): hides stalls, kept for comparison. */
  readonly status: Percentiles | null;
  readonly echo: Percentiles;
  /** Open-loop probe on a fixed schedule, timed from each request's intended send time. */
  readonly open: OpenLoopResult;
  readonly slowCallsPerSec: number;
  /** Slow calls answered with a result during the probe window. */
  readonly slowCalls: number;
  readonly lost: number;
  readonly errors: number;
  /** Error answers by code. */
  readonly codes: Record<string, number>;
}

export interface HolOptions {
  readonly connections: number;
  readonly intervalMs: number;
  /** Open-loop probe rate, requests per second. */
  readonly rate: number;
  readonly ms: number;
  readonly slow: CallSpec;
  readonly fast: CallSpec;
  /** Probe `{"type":"status"}` too (the target answers dispatchd's control messages). */
  readonly status: boolean;
}

/**
 * One call of each kind before anything is measured: a target that answers
 * the chosen call with an error cannot be measured with it, and says so
 * rather than reporting its errors as throughput.
 */
export async function preflight(socket: string, target: string, calls: readonly (readonly [string, CallSpec])[]): Promise<void> {
  const c = await LoadConn.open(socket);
  try {
    for (const [flag, call] of calls) {
      const { msg } = await c.call(call.method, nextParams(call));
      const code = errorCode(msg);
      if (code !== null) {
        const message = String((msg.error as { message?: unknown } | undefined)?.message ?? '').slice(0, 120);
        throw new BenchUsageError(`${target} answered ${flag} '${showCall(call)}' with error ${code} (${message}); choose a call it serves: ${flag} 'METHOD {json params}'`);
      }
    }
  } finally {
    c.close();
  }
}

/** A target's histograms and totals over alternating rounds. */
export interface HolRounds {
  readonly status: Histogram;
  readonly echo: Histogram;
  readonly open: Histogram;
  readonly openStatus: Histogram;
  seconds: number;
  prev: HolResult | null;
}

export function holRounds(): HolRounds {
  return { status: new Histogram(), echo: new Histogram(), open: new Histogram(), openStatus: new Histogram(), seconds: 0, prev: null };
}

const sumCodes = (a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> => {
  const out = { ...a };
  addCodes(out, b);
  return out;
};

/**
 * K connections of slow calls back-to-back while two probes run side by
 * side: the closed-loop one (status, then a fast call, then the interval)
 * and the open-loop one (a fast call and a status every 1/rate s). With
 * `rounds`, this is one round of several: it records into their histograms
 * and returns the totals so far.
 */
export async function holAgainst(socket: string, target: string, o: HolOptions, progress: Progress, rounds: HolRounds = holRounds()): Promise<HolResult> {
  await preflight(socket, target, [
    ['--slow-call', o.slow],
    ['--fast-call', o.fast],
  ]);
  const { status, echo } = rounds;
  // Whatever ends this round early (the server dies), nothing it started outlives it.
  const ac = new AbortController();
  const conns: LoadConn[] = [];
  let stop = false;
  try {
    const slow = await Promise.all(Array.from({ length: o.connections }, () => LoadConn.open(socket)));
    conns.push(...slow);
    const probe = await LoadConn.open(socket);
    conns.push(probe);
    let slowDone = 0;
    const loops = slow.map(async (c) => {
      while (!stop && !c.closed) {
        const { msg } = await c.call(o.slow.method, nextParams(o.slow)).catch(() => ({ msg: { error: 'closed' } }));
        if (errorCode(msg) === null) slowDone++;
      }
    });
    await sleep(500); // let the slow calls saturate first
    const t0 = performance.now();
    const startDone = slowDone;
    const open = openLoop(socket, { rate: o.rate, ms: o.ms, call: o.fast, status: o.status, hist: rounds.open, statusHist: rounds.openStatus, signal: ac.signal });
    open.catch(() => {}); // awaited below; a failure here must not be an unhandled rejection meanwhile
    while (performance.now() - t0 < o.ms && !probe.closed) {
      if (o.status) status.record((await probe.control({ type: 'status' })).ms);
      echo.record((await probe.call(o.fast.method, nextParams(o.fast))).ms);
      progress(`hol ${target}`, (performance.now() - t0) / o.ms);
      await sleep(o.intervalMs);
    }
    const openResult = await open;
    const seconds = (performance.now() - t0) / 1000;
    const slowCalls = slowDone - startDone;
    stop = true;
    await within(Promise.all(loops), 10_000);
    if (probe.closed) throw new Error(`${target} closed the connection during hol`);
    const lost = conns.reduce((n, c) => n + c.sent - c.answered, 0) + openResult.lost;
    const errors = conns.reduce((n, c) => n + c.errors, 0) + openResult.errors;
    const codes: Record<string, number> = {};
    for (const c of conns) addCodes(codes, c.codes);
    addCodes(codes, openResult.codes);
    return merge(rounds, { target, status: o.status ? status.summary() : null, echo: echo.summary(), open: openResult, slowCalls, seconds, lost, errors, codes });
  } finally {
    stop = true;
    ac.abort();
    for (const c of conns) c.close();
  }
}

/** This round's figures added to the rounds before it (percentiles come from the shared histograms). */
function merge(
  rounds: HolRounds,
  r: { target: string; status: Percentiles | null; echo: Percentiles; open: OpenLoopResult; slowCalls: number; seconds: number; lost: number; errors: number; codes: Record<string, number> },
): HolResult {
  const { target, status, echo, open: openResult, slowCalls, seconds, lost, errors, codes } = r;
  const prev = rounds.prev;
  rounds.seconds += seconds;
  const total = slowCalls + (prev?.slowCalls ?? 0);
  const result: HolResult = {
    target,
    status,
    echo,
    open:
      prev === null
        ? openResult
        : {
            ...openResult,
            sent: prev.open.sent + openResult.sent,
            ok: prev.open.ok + openResult.ok,
            errors: prev.open.errors + openResult.errors,
            lost: prev.open.lost + openResult.lost,
            codes: sumCodes(prev.open.codes, openResult.codes),
          },
    slowCallsPerSec: Math.round((total / rounds.seconds) * 10) / 10,
    slowCalls: total,
    lost: lost + (prev?.lost ?? 0),
    errors: errors + (prev?.errors ?? 0),
    codes: prev === null ? codes : sumCodes(prev.codes, codes),
  };
  rounds.prev = result;
  return result;
}

/**
 * Several targets in alternating rounds (the order rotating each round), so
 * that the machine's changing load weighs on each alike.
 */
export async function holAlternating(targets: readonly { readonly name: string; readonly socket: string; readonly status: boolean }[], o: HolOptions, progress: Progress): Promise<HolResult[]> {
  const acc = targets.map(() => holRounds());
  const results: (HolResult | null)[] = targets.map(() => null);
  const n = targets.length > 1 ? ROUNDS : 1;
  for (let round = 0; round < n; round++) {
    for (let k = 0; k < targets.length; k++) {
      const i = (k + round) % targets.length;
      const t = targets[i] as (typeof targets)[number];
      results[i] = await holAgainst(t.socket, t.name, { ...o, ms: o.ms / n, status: t.status }, (label, f) => progress(label, (round + f) / n), acc[i]);
    }
  }
  return results as HolResult[];
}

export async function holVariants(o: HolOptions & { threads?: number; variants: readonly string[] }, progress: Progress): Promise<HolResult[]> {
  const out: HolResult[] = [];
  for (const variant of o.variants) {
    const nice = /^pool-nice-(\d+)$/.exec(variant);
    const flags = variant === 'inline' ? ['--inline'] : variant === 'pool-no-lanes' ? ['--fast-threads', '0'] : nice ? ['--slow-nice', nice[1] as string] : [];
    const d = await startDispatchd([...flags, ...(o.threads ? ['--threads', String(o.threads)] : [])]);
    try {
      out.push(await holAgainst(d.socket, variant, o, progress));
    } finally {
      await d.stop();
    }
  }
  return out;
}

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
