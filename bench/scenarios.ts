/**
 * The load scenarios (startup is in startup.ts). Each is bounded in time, counts lost responses and
 * errors, and returns plain data for the report.
 */
import { performance } from 'node:perf_hooks';
import { Histogram, LoadConn, closedLoop, type ClosedLoopResult, type Percentiles } from './load.js';
import { startDispatchd, startEchoServer, withProc, type Proc } from './procs.js';
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

export async function throughput(
  o: { socket?: string; settings: readonly (readonly [number, number])[]; ms: number; method: string; ceiling: boolean },
  progress: Progress,
): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  const targets: [string, () => Promise<Proc>][] = o.socket
    ? [['external', async () => ({ socket: o.socket as string, pid: 0, stop: async () => {} })]]
    : [['dispatchd', () => startDispatchd()]];
  if (o.ceiling) targets.push(['inline-echo', () => startEchoServer()]);
  // The original's shape, measured in the same run.
  if (o.ceiling && havePython()) targets.push(['asyncio-to_thread', () => startBaseline()]);
  for (const [target, start] of targets) {
    await withProc(start(), async (p) => {
      for (const [c, pl] of o.settings) {
        const label = `throughput ${target} C=${c} P=${pl}`;
        const result = await closedLoop(p.socket, { connections: c, pipeline: pl, ms: o.ms, method: o.method, params: { x: 1 }, onTick: (f) => progress(label, f) });
        rows.push({ target, connections: c, pipeline: pl, result });
      }
    });
  }
  return rows;
}

export interface ScalingRow {
  readonly threads: number;
  readonly workPerSec: number;
  readonly speedup: number;
  readonly callsPerSec: number;
  readonly lost: number;
  readonly errors: number;
}

export async function scaling(o: { maxThreads: number; ms: number; iterations: number }, progress: Progress): Promise<ScalingRow[]> {
  const rows: ScalingRow[] = [];
  for (let t = 1; t <= o.maxThreads; t++) {
    const r = await withProc(startDispatchd(['--threads', String(t)]), (d) =>
      closedLoop(d.socket, { connections: t * 2, pipeline: 1, ms: o.ms, method: 'cpu', params: { iterations: o.iterations }, onTick: (f) => progress(`scaling ${t} thread(s)`, f) }),
    );
    const workPerSec = Math.round(r.callsPerSec * o.iterations);
    rows.push({ threads: t, workPerSec, speedup: rows[0] ? Math.round((workPerSec / rows[0].workPerSec) * 100) / 100 : 1, callsPerSec: r.callsPerSec, lost: r.lost, errors: r.errors });
  }
  return rows;
}
