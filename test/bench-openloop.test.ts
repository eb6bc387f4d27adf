/**
 * The open-loop probe sees what it exists to find: against a server that
 * blocks its main thread for 300 ms now and then, the probe on a fixed
 * schedule (timed from each request's intended send time) puts the stall in
 * its p99, while the closed-loop probe beside it (send, wait, send) records
 * each stall as one sample and hides it. Relations only, no absolute times
 * of this machine: the stall's length is the fixture's, not the machine's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { holAgainst } from '../bench/hol.js';
import { STALL_SERVER, startScript, withProc } from '../bench/procs.js';

const STALL_MS = 300;

test('open-loop p99 shows a 300 ms stall that the closed-loop p99 hides', { timeout: 60_000 }, async () => {
  await withProc(startScript(STALL_SERVER, ['--every', '2500', '--stall', String(STALL_MS)]), async (s) => {
    const r = await holAgainst(
      s.socket,
      'stalling',
      { connections: 2, intervalMs: 20, rate: 50, ms: 6000, slow: { method: 'sleep', params: { ms: 50 } }, fast: { method: 'echo', params: { x: 1 } }, status: true },
      () => {},
    );
    assert.equal(r.errors, 0);
    assert.equal(r.lost, 0);
    // Every request the schedule held inside a stall waited for it: the stall dominates the tail.
    assert.ok(r.open.latency.p99 >= STALL_MS * 0.6, `open-loop p99 ${r.open.latency.p99} ms`);
    // The closed loop sent nothing while stalled: one slow sample per stall, under its p99...
    assert.ok(r.echo.p99 * 3 < r.open.latency.p99, `closed-loop p99 ${r.echo.p99} ms vs open-loop ${r.open.latency.p99} ms`);
    // ...though the stall is there in its max, as one sample (of status or echo, whichever was in flight).
    assert.ok(Math.max(r.echo.max, r.status?.max ?? 0) >= STALL_MS * 0.6);
    // Both probes ran through the whole window: the open loop on its schedule.
    assert.ok(r.open.sent >= 50 * 6 * 0.9, `${r.open.sent} sent`);
  });
});
