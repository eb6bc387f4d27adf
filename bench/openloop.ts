/**
 * An open-loop probe: requests leave on a fixed schedule whatever the
 * server does, and each latency is measured from the time its request
 * *should* have left. A closed-loop probe (send, wait, send) stops sending
 * while the server stalls, so a 300 ms stall becomes one slow sample instead
 * of every sample the schedule held in it: coordinated omission. This is
 * wrk2's and k6's constant-arrival-rate correction.
 */
import { performance } from 'node:perf_hooks';
import { Histogram, LoadConn, requestHead, type Percentiles } from './load.js';
import { sleep, within } from './timers.js';
import { nextParams, type CallSpec } from './calls.js';

export interface OpenLoopResult {
  /** Requests per second the schedule asked for. */
  readonly rate: number;
  readonly sent: number;
  /** Answered with a result; latency percentiles are over these. */
  readonly ok: number;
  readonly errors: number;
  /** Error answers by code. */
  readonly codes: Record<string, number>;
  /** Sent (the call, or the status) and never answered within the grace period. */
  readonly lost: number;
  /** From intended send time to answer, ms. */
  readonly latency: Percentiles;
  /** Of the status probe, when the target answers control messages. */
  readonly status: Percentiles | null;
}

export interface OpenLoopOptions {
  readonly rate: number;
  readonly ms: number;
  readonly call: CallSpec;
  /** Also send `{"type":"status"}` on the same schedule (dispatchd-style control plane). */
  readonly status: boolean;
  readonly graceMs?: number;
  /** Record into these (shared across alternating rounds); the result's percentiles are theirs. */
  readonly hist?: Histogram;
  readonly statusHist?: Histogram;
  /** Stops the schedule early (the caller gave up). */
  readonly signal?: AbortSignal;
}

/**
 * Sends `call` (and a status, if asked) `rate` times a second for `ms` on
 * connections of its own. Timers wake a few ms late on a busy machine; each
 * wake sends every request whose time has come, and still times it from its
 * scheduled moment, so the harness's own lateness does not hide the server's.
 */
export async function openLoop(socket: string, o: OpenLoopOptions): Promise<OpenLoopResult> {
  const conn = await LoadConn.open(socket);
  const ctl = o.status ? await LoadConn.open(socket) : null;
  const hist = o.hist ?? new Histogram();
  const statusHist = o.statusHist ?? new Histogram();
  const fixed = o.call.template === undefined ? requestHead(o.call.method, o.call.params) : null;
  const period = 1000 / o.rate;
  let ok = 0;
  let answered = 0;
  let sent = 0;
  const controls: Promise<unknown>[] = [];
  const t0 = performance.now();
  const end = t0 + o.ms;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      for (; sent * period + t0 <= Math.min(now, end); sent++) {
        const due = t0 + sent * period;
        conn.send(
          fixed ?? requestHead(o.call.method, nextParams(o.call)),
          (ms, failed) => {
            answered++;
            if (!failed) {
              ok++;
              hist.record(ms);
            }
          },
          due,
        );
        if (ctl) controls.push(ctl.control({ type: 'status' }, due).then((r) => statusHist.record(r.ms), () => {}));
      }
      // The server went away or the caller gave up: what was sent is counted, nothing more is scheduled.
      if (now >= end || conn.closed || o.signal?.aborted === true) return resolve();
      setTimeout(tick, Math.max(0, Math.min(t0 + sent * period, end) - performance.now()));
    };
    tick();
  });
  const graceEnd = performance.now() + (o.graceMs ?? 5000);
  const waiting = (): boolean => !conn.closed && o.signal?.aborted !== true && performance.now() < graceEnd;
  while (answered < sent && waiting()) await sleep(5);
  if (waiting()) await within(Promise.all(controls), Math.max(0, graceEnd - performance.now()));
  conn.close();
  ctl?.close();
  return {
    rate: o.rate,
    sent,
    ok,
    errors: conn.errors,
    codes: { ...conn.codes },
    // Status replies that never came are lost too.
    lost: sent - answered + (ctl ? ctl.sent - ctl.answered : 0),
    latency: hist.summary(),
    status: ctl ? statusHist.summary() : null,
  };
}
