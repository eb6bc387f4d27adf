/**
 * The pool's scenarios (docs/pool.md; blocking is in blocking.ts): real
 * work under contention from ordinary CPU hogs, victims of a poisonous
 * client, per-call deadlines, and the first burst — of a method never
 * seen, and of a fresh server beside the asyncio baseline. Each is bounded
 * in time and stops what it starts; their headlines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { LoadConn, closedLoop, type Percentiles } from './load.js';
import { startDispatchd, withProc, type Proc } from './procs.js';
import { sleep, within } from './timers.js';
import { alternateFresh, coldServers, median as middle } from './rounds.js';
import type { BlockingRow } from './blocking.js';
import type { Headline, Progress } from './types.js';
import { errorCode } from './wire-error.js';


const r1 = (x: number): number => Math.round(x * 10) / 10;

// ---- contention -----------------------------------------------------------

export interface ContentionRow {
  readonly slowNice: number;
  readonly iterations: number;
  readonly unloadedMs: number;
  readonly loadedMs: number;
  readonly ratio: number;
}

/** Two ordinary CPU hogs, in this session (like a build started from the same shell); killed after `ms` whatever happens. */
function startHogs(ms: number): ChildProcess[] {
  return [0, 1].map(() => {
    const hog = spawn(process.execPath, ['-e', `setTimeout(() => process.exit(0), ${ms}); for (;;) {}`], { stdio: 'ignore' });
    hog.unref();
    return hog;
  });
}

async function median(n: number, f: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await f());
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)] as number;
}

async function contentionAgainst(d: Proc, slowNice: number): Promise<ContentionRow> {
  const c = await LoadConn.open(d.socket);
  const timed = async (iterations: number): Promise<number> => (await c.call('cpu', { iterations })).ms;
  // Calibrate a fixed amount of work that takes ~40 ms here, unloaded.
  let iterations = 2_000_000;
  for (let i = 0; i < 4; i++) iterations = Math.round((iterations * 40) / Math.max(1, await median(3, () => timed(iterations))));
  // Unloaded and loaded alternate, so whatever else the machine runs weighs on both alike.
  const unloaded: number[] = [];
  const loaded: number[] = [];
  for (let cycle = 0; cycle < 3; cycle++) {
    unloaded.push(await median(5, () => timed(iterations)));
    const hogs = startHogs(20_000);
    try {
      await sleep(300);
      loaded.push(await median(5, () => timed(iterations)));
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
    }
    await sleep(300);
  }
  const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const unloadedMs = mid(unloaded);
  const loadedMs = mid(loaded);
  c.close();
  return { slowNice, iterations, unloadedMs: r1(unloadedMs), loadedMs: r1(loadedMs), ratio: Math.round((loadedMs / unloadedMs) * 100) / 100 };
}

export async function contention(nices: readonly number[], progress: Progress): Promise<ContentionRow[]> {
  const rows: ContentionRow[] = [];
  for (const [i, nice] of nices.entries()) {
    progress(`contention slow-nice ${nice}`, i / nices.length);
    rows.push(await withProc(startDispatchd(['--slow-nice', String(nice)]), (d) => contentionAgainst(d, nice)));
  }
  return rows;
}

// ---- poison ---------------------------------------------------------------

export interface PoisonResult {
  readonly seconds: number;
  readonly victimCalls: number;
  readonly victimErrors: number;
  readonly victimLost: number;
  readonly victimLatency: Percentiles;
  readonly attackerCalls: number;
  readonly attackerCodes: Record<string, number>;
}

/** 8 clients pipelining echo; one attacker whose calls kill their worker or never end (under a 200 ms deadline). */
export async function poison(o: { ms: number }, progress: Progress): Promise<PoisonResult> {
  return withProc(startDispatchd(['--call-deadline-ms', '200']), async (d) => {
    const attacker = await LoadConn.open(d.socket);
    let stop = false;
    let attackerCalls = 0;
    const codes: Record<string, number> = {};
    const attack = (async () => {
      for (let i = 0; !stop; i++) {
        const { msg } = await attacker.call('poison', i % 2 === 0 ? { exit: true } : { loop: true });
        attackerCalls++;
        const code = String(errorCode(msg) ?? 'ok');
        codes[code] = (codes[code] ?? 0) + 1;
      }
    })().catch(() => {}); // the attacker's connection closing ends the attack; the victims are what is measured
    const victims = await closedLoop(d.socket, { connections: 8, pipeline: 8, ms: o.ms, method: 'echo', params: { x: 1 }, onTick: (f) => progress('poison', f) });
    stop = true;
    await within(attack, 5000);
    attacker.close();
    return { seconds: r1(victims.seconds), victimCalls: victims.calls, victimErrors: victims.errors, victimLost: victims.lost, victimLatency: victims.latency, attackerCalls, attackerCodes: codes };
  });
}

// ---- deadline -------------------------------------------------------------

export interface DeadlineResult {
  readonly pipelinedOk: number;
  readonly pipelinedDeadline: number;
  readonly pipelinedOther: number;
  readonly longCode: number | null;
}

/** Under a 100 ms deadline: ten pipelined 30 ms blocking calls on one connection, then one 300 ms call. */
export async function deadline(progress: Progress): Promise<DeadlineResult> {
  return withProc(startDispatchd(['--call-deadline-ms', '100']), async (d) => {
    progress('deadline', 0);
    const c = await LoadConn.open(d.socket);
    const replies = await Promise.all(Array.from({ length: 10 }, () => c.call('sleep', { ms: 30 })));
    const long = await c.call('sleep', { ms: 300 });
    c.close();
    progress('deadline', 1);
    return {
      pipelinedOk: replies.filter((r) => errorCode(r.msg) === null).length,
      pipelinedDeadline: replies.filter((r) => errorCode(r.msg) === -32004).length,
      pipelinedOther: replies.filter((r) => errorCode(r.msg) !== null && errorCode(r.msg) !== -32004).length,
      longCode: errorCode(long.msg),
    };
  });
}

// ---- first burst ----------------------------------------------------------

export interface FirstBurstResult {
  readonly coldMs: number;
  readonly warmMs: number;
  readonly ratio: number;
  /** C16 P32 on a fresh daemon: the first calls include the method's first burst. */
  readonly freshMaxMs: number;
  readonly freshP99Ms: number;
  /** A fresh server, one echo, then 512 pipelined echo calls (cold), then the same again (warm): ms, median of the rounds, per server. */
  readonly freshBurst: readonly { readonly target: string; readonly coldMs: number; readonly warmMs: number }[];
}

async function burst(socket: string, method: string): Promise<number> {
  const conns = await Promise.all(Array.from({ length: 16 }, () => LoadConn.open(socket)));
  const t0 = performance.now();
  await Promise.all(conns.flatMap((c) => Array.from({ length: 32 }, (_, i) => c.call(method, { i }))));
  const ms = performance.now() - t0;
  for (const c of conns) c.close();
  return ms;
}

/** On a fresh server: one echo (it answers), then 512 pipelined echo calls, then the same again. */
async function freshBurst(start: () => Promise<Proc>): Promise<{ cold: number; warm: number }> {
  return withProc(start(), async (p) => {
    const c = await LoadConn.open(p.socket);
    await c.call('echo', {});
    c.close();
    const cold = await burst(p.socket, 'echo');
    const warm = await burst(p.socket, 'echo');
    return { cold, warm };
  });
}

/**
 * 512 pipelined calls (16 × 32) of a method the daemon has not seen, then the same warm; C16 P32 on
 * a fresh daemon; and the fresh-server burst for dispatchd and the asyncio baseline, alternating.
 */
export async function firstBurst(o: { ms: number }, progress: Progress): Promise<FirstBurstResult> {
  progress('first burst', 0);
  const [coldMs, warmMs] = await withProc(startDispatchd(), async (d) => {
    // Only the method may be new: the daemon answers status before its threads have loaded the
    // module, so wait for a call on each lane (a fast `echo`, a slow-declared `sleep`) first.
    const c = await LoadConn.open(d.socket);
    await Promise.all([c.call('echo', {}), c.call('sleep', { ms: 1 })]);
    c.close();
    const cold = await burst(d.socket, 'fresh');
    const warm = await burst(d.socket, 'fresh');
    return [cold, warm];
  });
  progress('first burst', 0.5);
  const fresh = await withProc(startDispatchd(), (d) => closedLoop(d.socket, { connections: 16, pipeline: 32, ms: o.ms, method: 'echo', params: { x: 1 } }));
  const runs = await alternateFresh(coldServers(), freshBurst, (name, f) => progress(`first burst, fresh ${name}`, 0.6 + 0.4 * f));
  progress('first burst', 1);
  return {
    coldMs: r1(coldMs),
    warmMs: r1(warmMs),
    ratio: Math.round((coldMs / warmMs) * 100) / 100,
    freshMaxMs: fresh.latency.max,
    freshP99Ms: fresh.latency.p99,
    freshBurst: [...runs].map(([target, r]) => ({ target, coldMs: r1(middle(r.map((x) => x.cold))), warmMs: r1(middle(r.map((x) => x.warm))) })),
  };
}

// ---- report ---------------------------------------------------------------

export interface PoolBenchResults {
  blocking?: BlockingRow[];
  contention?: ContentionRow[];
  poison?: PoisonResult;
  deadline?: DeadlineResult;
  firstBurst?: FirstBurstResult;
}

export function poolHeadlines(p: PoolBenchResults | undefined): Headline[] {
  const out: Headline[] = [];
  if (p === undefined) return out;
  for (const b of p.blocking ?? []) {
    out.push({ name: `blocking ${b.target}: 10 clients × 5 sequential 50 ms calls`, value: `${b.tenByFiveSec} s`, ...(b.target === 'dispatchd' ? { target: '≤ 0.30 s', met: b.tenByFiveSec <= 0.3 } : {}) });
    if (b.coldTenByFiveSec !== undefined) out.push({ name: `blocking ${b.target}: the same, cold (fresh server, one call, then the burst)`, value: `${b.coldTenByFiveSec} s` });
    out.push({ name: `blocking ${b.target}: 3 parallel 300 ms calls`, value: `${b.threeParallelSec} s`, ...(b.target === 'dispatchd' ? { target: '≤ 0.35 s', met: b.threeParallelSec <= 0.35 } : {}) });
  }
  const [d, base] = [p.blocking?.find((b) => b.target === 'dispatchd'), p.blocking?.find((b) => b.target === 'asyncio-to_thread')];
  if (d?.coldTenByFiveSec !== undefined && base?.coldTenByFiveSec !== undefined) {
    out.push({ name: 'blocking cold: dispatchd ÷ asyncio baseline (10 × 5 × 50 ms on a fresh server)', value: `${d.coldTenByFiveSec} / ${base.coldTenByFiveSec} s = ${Math.round((d.coldTenByFiveSec / base.coldTenByFiveSec) * 100) / 100}×` });
  }
  for (const c of p.contention ?? []) {
    out.push({ name: `contention (slow-nice ${c.slowNice}): ~40 ms CPU call with 2 hogs ÷ unloaded`, value: `${c.loadedMs} / ${c.unloadedMs} ms = ${c.ratio}×`, ...(c.slowNice === 0 ? { target: '≤ 2×', met: c.ratio <= 2 } : {}) });
  }
  if (p.poison) {
    const x = p.poison;
    out.push({ name: 'poison: victim calls failed or lost', value: `${x.victimErrors + x.victimLost} of ${x.victimCalls} (attacker ${x.attackerCalls} calls: ${JSON.stringify(x.attackerCodes)})`, target: '0', met: x.victimErrors + x.victimLost === 0 });
  }
  if (p.deadline) {
    const x = p.deadline;
    out.push({ name: 'deadline 100 ms: ten pipelined 30 ms calls succeed', value: `${x.pipelinedOk}/10 (-32004: ${x.pipelinedDeadline})`, target: '10/10', met: x.pipelinedOk === 10 });
    out.push({ name: 'deadline 100 ms: a 300 ms call', value: String(x.longCode), target: '-32004', met: x.longCode === -32004 });
  }
  if (p.firstBurst) {
    const x = p.firstBurst;
    out.push({ name: 'first burst: 512 pipelined calls, new method ÷ warm', value: `${x.coldMs} / ${x.warmMs} ms = ${x.ratio}×`, target: '≤ 2×', met: x.ratio <= 2 });
    out.push({ name: 'first burst: C16 P32 on a fresh daemon, max latency', value: `${x.freshMaxMs} ms (p99 ${x.freshP99Ms} ms)`, target: '≤ 100 ms', met: x.freshMaxMs <= 100 });
    for (const f of x.freshBurst) out.push({ name: `first burst, ${f.target}: fresh server, one echo, then 512 pipelined echo (cold / warm)`, value: `${f.coldMs} / ${f.warmMs} ms` });
  }
  return out;
}
