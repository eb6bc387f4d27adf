/**
 * The blocking scenario: 10 clients × 5 sequential slow calls and 3
 * parallel ones — warm (steady state) and cold (a fresh server, one call,
 * then the burst) — against dispatchd and the asyncio baseline, or warm
 * against a user's targets with their slow call.
 */
import { performance } from 'node:perf_hooks';
import { LoadConn } from './load.js';
import { withProc, type Proc } from './procs.js';
import { alternateFresh, coldServers, median } from './rounds.js';
import { errorCode } from './wire-error.js';
import { nextParams, type CallSpec } from './calls.js';
import type { Progress } from './types.js';

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export interface BlockingRow {
  readonly target: string;
  /** 10 clients × 5 sequential slow calls (50 ms blocking sleeps on the fixture), warm: wall seconds. */
  readonly tenByFiveSec: number;
  /** 3 parallel slow calls (300 ms on the fixture), warm: wall seconds. */
  readonly threeParallelSec: number;
  /** The same 10 × 5 on a fresh server after one call (median of the rounds); absent for a server the bench did not start. */
  readonly coldTenByFiveSec?: number;
  readonly errors: number;
}

/** The calls of the blocking scenario: the 10 × 5 one and the 3-parallel one. */
export interface BlockingCalls {
  readonly short: CallSpec;
  readonly long: CallSpec;
}

const FIXTURE_BLOCKING: BlockingCalls = { short: { method: 'sleep', params: { ms: 50 } }, long: { method: 'sleep', params: { ms: 300 } } };

/** `clients` connections each making `calls` sequential calls: wall seconds, and how many were answered with an error. */
async function rounds(conns: readonly LoadConn[], clients: number, calls: number, call: CallSpec): Promise<{ sec: number; errors: number }> {
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    conns.slice(0, clients).map(async (c) => {
      for (let i = 0; i < calls; i++) if (errorCode((await c.call(call.method, nextParams(call))).msg) !== null) errors++;
    }),
  );
  return { sec: (performance.now() - t0) / 1000, errors };
}

async function blockingAgainst(socket: string, target: string, calls: BlockingCalls): Promise<BlockingRow> {
  const conns = await Promise.all(Array.from({ length: 10 }, () => LoadConn.open(socket)));
  try {
    let errors = 0;
    // Warm: threads start on demand (a worker thread costs tens of ms of CPU to
    // start) and the method is learned; measure the steady state, up to 10 rounds.
    for (let i = 0; i < 10; i++) {
      const w = await rounds(conns, 10, 1, calls.short);
      errors += w.errors;
      if (w.sec <= 0.1) break;
    }
    const ten = await rounds(conns, 10, 5, calls.short);
    const three = await rounds(conns, 3, 1, calls.long);
    errors += ten.errors + three.errors;
    return { target, tenByFiveSec: r3(ten.sec), threeParallelSec: r3(three.sec), errors };
  } finally {
    for (const c of conns) c.close();
  }
}

/** A fresh server, one call (it answers), then the 10 × 5 burst: the first burst a user meets. */
async function coldAgainst(start: () => Promise<Proc>, calls: BlockingCalls): Promise<{ sec: number; errors: number }> {
  return withProc(start(), async (p) => {
    const conns = await Promise.all(Array.from({ length: 10 }, () => LoadConn.open(p.socket)));
    try {
      const first = await rounds(conns, 1, 1, { method: 'echo', params: {} });
      const burst = await rounds(conns, 10, 5, calls.short);
      return { sec: burst.sec, errors: first.errors + burst.errors };
    } finally {
      for (const c of conns) c.close();
    }
  });
}

/**
 * Against the project's own daemon: dispatchd and the asyncio baseline,
 * warm and cold (fresh processes, alternating, median of three); against a
 * user's running targets: warm only, with their slow call.
 */
export async function blocking(progress: Progress, o: { targets?: readonly { name: string; socket: string }[]; calls?: BlockingCalls } = {}): Promise<BlockingRow[]> {
  const calls = o.calls ?? FIXTURE_BLOCKING;
  if (o.targets) {
    const rows: BlockingRow[] = [];
    for (const [i, t] of o.targets.entries()) {
      progress(`blocking ${t.name}`, i / o.targets.length);
      rows.push(await blockingAgainst(t.socket, t.name, calls));
    }
    return rows;
  }
  const servers = coldServers();
  const cold = await alternateFresh(servers, (start) => coldAgainst(start, calls), (name, f) => progress(`blocking cold ${name}`, f / 2));
  const rows: BlockingRow[] = [];
  for (const [k, [name, start]] of servers.entries()) {
    progress(`blocking warm ${name}`, 0.5 + k / (servers.length * 2));
    const warm = await withProc(start(), (p) => blockingAgainst(p.socket, name, calls));
    const c = cold.get(name) ?? [];
    rows.push({ ...warm, coldTenByFiveSec: r3(median(c.map((x) => x.sec))), errors: warm.errors + c.reduce((n, x) => n + x.errors, 0) });
  }
  progress('blocking', 1);
  return rows;
}
