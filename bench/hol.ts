/**
 * The hol scenario: K connections keep slow calls running while two probes
 * time fast calls beside them — an open-loop one on a fixed schedule (timed
 * from each request's intended send time) and a closed-loop one (send,
 * wait, send) — against the project's variants or a user's targets.
 */
import { performance } from 'node:perf_hooks';
import { Histogram, LoadConn, type Percentiles } from './load.js';
import { startDispatchd, type Proc } from './procs.js';
import { openLoop, type OpenLoopResult } from './openloop.js';
import { nextParams, type CallSpec } from './calls.js';
import { preflight } from './preflight.js';
import { ROUNDS } from './rounds.js';
import { sleep, within } from './timers.js';
import { addCodes, errorCode } from './wire-error.js';
import type { Progress } from './types.js';

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

/** A target's histograms and totals over alternating rounds. */
export interface HolRounds {
  readonly status: Histogram;
  readonly echo: Histogram;
  readonly open: Histogram;
  readonly openStatus: Histogram;
  seconds: number;
  prev: HolResult | null;
}

function holRounds(): HolRounds {
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
      const answer = await probe.call(o.fast.method, nextParams(o.fast));
      if (errorCode(answer.msg) === null) echo.record(answer.ms); // an error answer is counted, never timed
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

/**
 * The project's own hol variants: dispatchd with the bench fixture, one
 * daemon per variant, all started first and then measured in alternating
 * rounds (an idle daemon costs memory, not CPU), so the pool ÷ inline ratio
 * does not also measure how the machine's load moved between them.
 */
export async function holVariants(o: HolOptions & { threads?: number; variants: readonly string[] }, progress: Progress): Promise<HolResult[]> {
  const started: Proc[] = [];
  try {
    const targets = [];
    for (const variant of o.variants) {
      const nice = /^pool-nice-(\d+)$/.exec(variant);
      const flags = variant === 'inline' ? ['--inline'] : variant === 'pool-no-lanes' ? ['--fast-threads', '0'] : nice ? ['--slow-nice', nice[1] as string] : [];
      const d = await startDispatchd([...flags, ...(o.threads ? ['--threads', String(o.threads)] : [])]);
      started.push(d);
      targets.push({ name: variant, socket: d.socket, status: true });
    }
    return await holAlternating(targets, o, progress);
  } finally {
    await Promise.all(started.map((d) => d.stop()));
  }
}
