/** The lifecycle scheduler (SPEC §7) with real control messages over the socket. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Conn, FIXTURES, roundTrip, rpc, silent, startDaemon, sleep, tmpHome, type Running } from './helper.js';
import { resolveConfig, type ConfigInput } from '../src/config.js';
import { Daemon } from '../src/daemon.js';
import type { SchedulerStatus, SocketStatusReply } from '../src/lifecycle/status-reply.js';
import { status as statusReply } from './status.js';

const SLOW_MAINTAIN = join(FIXTURES, 'slow-maintain.js');
const status = (d: Running): Promise<SocketStatusReply> => statusReply(d.socket);
const sched = async (d: Running): Promise<SchedulerStatus> => (await status(d)).scheduler;
const disk = (d: Running): Record<string, any> => JSON.parse(readFileSync(join(d.home, 'state.json'), 'utf8'));
const transitions = (logs: Record<string, unknown>[]): unknown[] => logs.filter((l) => l.msg === 'transition').map((l) => l.fsm_state);

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    assert.ok(Date.now() - t0 < ms, `timed out waiting for ${what}`);
    await sleep(20);
  }
}

const fastTicks: ConfigInput = { tickMs: 50, idleMs: 3_600_000, sleepEveryMs: 3_600_000 };

/**
 * A monitoring probe: `status` every `ms`, alternately on one long-lived
 * connection and on a fresh one each time. Stop it with the returned function.
 */
function monitor(d: Running, ms = 10): () => Promise<number> {
  let stop = false;
  let sent = 0;
  const run = (async () => {
    const held = await Conn.open(d.socket);
    try {
      while (!stop) {
        held.send({ type: 'status' });
        await held.waitLines(++sent);
        await roundTrip(d.socket, { type: 'status' });
        await sleep(ms);
      }
    } finally {
      held.close();
    }
    return sent;
  })();
  return async () => {
    stop = true;
    return run;
  };
}

describe('transitions', () => {
  test('idle: WAKE → TRANSITIONING → SLEEP → DREAMING → SLEEP → WAKE, one cycle, each step on disk', async () => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon({ ...fastTicks, idleMs: 200 }, logs);
    try {
      await until('a cycle', () => logs.some((l) => l.msg === 'maintenance cycle'));
      // `transition` is logged before its write; `awake` after WAKE is on disk.
      await until('awake', () => logs.some((l) => l.msg === 'awake'));
      assert.deepEqual(transitions(logs).slice(0, 5), ['TRANSITIONING', 'SLEEP', 'DREAMING', 'SLEEP', 'WAKE']);
      const s = await sched(d);
      assert.equal(s.cycles, 1);
      assert.equal(s.last_cycle?.outcome, 'ok');
      assert.equal(disk(d).fsm_state, 'WAKE');
      assert.equal(disk(d).last_cycle.outcome, 'ok');
      assert.equal(typeof (await status(d)).last_tick_at, 'string');
    } finally {
      await d.close();
    }
  });

  test('not idle while a connection that carried a call is open: ticks skip with a reason', async () => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon({ ...fastTicks, idleMs: 100 }, logs);
    try {
      const c = await Conn.open(d.socket);
      c.send(rpc(1, 'echo', [1]));
      await c.waitLines(1);
      // (On a slow machine an idle sleep may have begun before the call arrived; from here on none may.)
      await until('a tick that saw the connection', async () => (await sched(d)).waiting_for === 'connections active');
      const sleeps = logs.filter((l) => l.msg === 'entering sleep').length;
      await sleep(400); // four idle periods
      assert.equal(logs.filter((l) => l.msg === 'entering sleep').length, sleeps);
      const st = await status(d);
      assert.equal(st.scheduler.waiting_for, 'connections active');
      assert.equal(st.connections.foreground, 1, 'the status probe itself is not foreground');
      assert.equal(disk(d).last_tick_skipped_reason, 'not_idle');
      c.close();
    } finally {
      await d.close();
    }
  });

  test('a monitor polling status does not keep the daemon from becoming idle (SPEC §7)', async () => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon({ ...fastTicks, idleMs: 200 }, logs);
    const stop = monitor(d);
    try {
      await until('an idle sleep with the monitor polling', () => logs.some((l) => l.msg === 'awake' && l.why === 'idle'));
      assert.equal(logs.find((l) => l.msg === 'awake')?.woke_by, 'done', 'the monitor did not wake it');
      assert.ok((await stop()) > 0);
      assert.ok((await sched(d)).cycles >= 1);
    } finally {
      await stop();
      await d.close();
    }
  });

  test('user_initiated_sleep: one sleep, the flag consumed', async () => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon(fastTicks, logs);
    try {
      assert.deepEqual(await roundTrip(d.socket, { type: 'user_initiated_sleep', reason: 'night', ts: 't' }), { ok: true, state: 'TRANSITIONING' });
      await until('a cycle', async () => (await sched(d)).cycles === 1);
      await until('WAKE', () => disk(d).fsm_state === 'WAKE' && disk(d).user_sleep_request.pending === false);
      // The sleep logs `awake` once its WAKE is on disk.
      await until('awake logged', () => logs.some((l) => l.msg === 'awake'));
      assert.deepEqual(
        logs.filter((l) => l.msg === 'awake').map((l) => [l.why, l.woke_by]),
        [['user', 'done']],
      );
    } finally {
      await d.close();
    }
  });

  test('a sleep the user asked for runs all its cycles while a monitor polls status', async () => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon({ ...fastTicks, sleepCycles: 3 }, logs);
    const stop = monitor(d, 5);
    try {
      await sleep(50);
      await roundTrip(d.socket, { type: 'user_initiated_sleep', reason: 'night', ts: 't' });
      await until('awake', () => logs.some((l) => l.msg === 'awake'));
      const awake = logs.find((l) => l.msg === 'awake');
      assert.deepEqual([awake?.why, awake?.woke_by], ['user', 'done']);
      assert.equal((await sched(d)).cycles, 3);
    } finally {
      await stop();
      await d.close();
    }
  });

  test('a JSON-RPC call between cycles ends a user sleep early', async () => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon({ ...fastTicks, dispatch: SLOW_MAINTAIN, sleepCycles: 3, threads: 2 }, logs);
    try {
      await roundTrip(d.socket, { type: 'user_initiated_sleep', reason: 'night', ts: 't' });
      await until('dreaming', () => transitions(logs).includes('DREAMING'));
      assert.deepEqual((await roundTrip(d.socket, rpc(1, 'echo', ['hi']))).result, ['hi']);
      await until('awake', () => logs.some((l) => l.msg === 'awake'), 10_000);
      assert.equal(logs.find((l) => l.msg === 'awake')?.woke_by, 'call');
      assert.equal((await sched(d)).cycles, 1);
    } finally {
      await d.close();
    }
  });

  test('force_rem while busy runs exactly one cycle, then WAKE', async () => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon({ ...fastTicks, sleepCycles: 5 }, logs);
    const stop = monitor(d);
    try {
      const busy = await Conn.open(d.socket);
      busy.send({ jsonrpc: '2.0', id: 1, method: 'echo' });
      assert.deepEqual(await roundTrip(d.socket, { type: 'force_rem', ts: 't' }), { ok: true, reason: 'rem_queued' });
      await until('awake', () => logs.some((l) => l.msg === 'awake'));
      await sleep(300);
      assert.equal((await sched(d)).cycles, 1, 'exactly one');
      assert.equal(disk(d).force_rem_request.pending, false);
      assert.equal(disk(d).fsm_state, 'WAKE');
      busy.close();
    } finally {
      await stop();
      await d.close();
    }
  });

  test('force_wake is consumed by the tick', async () => {
    const d = await startDaemon(fastTicks);
    try {
      await roundTrip(d.socket, { type: 'force_wake', ts: 't' });
      await until('consumed', () => disk(d).force_wake_request?.pending === false);
      assert.equal(disk(d).fsm_state ?? 'WAKE', 'WAKE');
    } finally {
      await d.close();
    }
  });
});

describe('pause / resume', () => {
  test('paused ticks record skipped: paused and run nothing; resume restarts', async () => {
    const d = await startDaemon(fastTicks);
    try {
      await roundTrip(d.socket, { type: 'pause' });
      await roundTrip(d.socket, { type: 'force_rem', ts: 't' });
      await sleep(300);
      assert.equal((await sched(d)).cycles, 0);
      assert.equal(disk(d).last_tick_skipped_reason, 'paused');
      assert.equal(disk(d).force_rem_request.pending, true, 'the flag waits');
      await roundTrip(d.socket, { type: 'resume' });
      await until('the cycle after resume', async () => (await sched(d)).cycles === 1);
    } finally {
      await d.close();
    }
  });
});

describe('human first', () => {
  test('a client arriving mid-sleep is answered at once; no further cycle starts', async () => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon({ ...fastTicks, dispatch: SLOW_MAINTAIN, idleMs: 100, sleepCycles: 3, threads: 2 }, logs);
    try {
      await until('dreaming', () => transitions(logs).includes('DREAMING'));
      const t0 = performance.now();
      const r = await roundTrip(d.socket, { jsonrpc: '2.0', id: 1, method: 'echo', params: ['hi'] });
      const ms = performance.now() - t0;
      assert.deepEqual(r.result, ['hi']);
      assert.ok(ms < 500, `foreground call took ${ms.toFixed(1)} ms during a cycle`);
      await until('awake', () => logs.some((l) => l.msg === 'awake'), 10_000);
      assert.equal(logs.find((l) => l.msg === 'awake')?.woke_by, 'call');
      assert.equal((await sched(d)).cycles, 1, 'it yielded before the second cycle');
    } finally {
      await d.close();
    }
  });
});

describe('restart and shutdown', () => {
  for (const persisted of ['SLEEP', 'DREAMING', 'TRANSITIONING']) {
    test(`restart with ${persisted} on disk: status reports it until the first tick returns to WAKE and logs why`, async () => {
      const { dir, cleanup } = tmpHome();
      try {
        writeFileSync(join(dir, 'state.json'), JSON.stringify({ fsm_state: persisted }));
        const logs: Record<string, unknown>[] = [];
        const { pino } = await import('pino');
        const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l)) });
        const config = resolveConfig({ home: dir, dispatch: join(FIXTURES, 'dispatch.js'), threads: 1, tickMs: 400, idleMs: 3_600_000 }, {});
        const daemon = await Daemon.start(config, { log, env: {} });
        assert.equal((await roundTrip(config.socket, { type: 'status' })).fsm_state, persisted);
        await until('WAKE', async () => (await roundTrip(config.socket, { type: 'status' })).fsm_state === 'WAKE');
        assert.ok(logs.some((l) => l.fsm_state === persisted && /no cycle running/.test(String(l.msg))));
        await daemon.close();
      } finally {
        cleanup();
      }
    });
  }

  test('a clean stop during a cycle waits for it and leaves WAKE on disk', async () => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon({ ...fastTicks, dispatch: SLOW_MAINTAIN }, logs);
    const home = d.home;
    await roundTrip(d.socket, { type: 'force_rem', ts: 't' });
    await until('dreaming', () => transitions(logs).includes('DREAMING'));
    await d.daemon.close();
    const s = JSON.parse(readFileSync(join(home, 'state.json'), 'utf8'));
    assert.equal(s.fsm_state, 'WAKE');
    assert.equal(s.last_cycle.outcome, 'ok', 'the cycle finished');
    assert.equal(typeof s.daemon_stopped_at, 'string');
    await d.close();
  });
});

describe('pruning', () => {
  test('first_turn_pending entries past the TTL are pruned and the map is capped', async () => {
    const { dir, cleanup } = tmpHome();
    try {
      const old = new Date(Date.now() - 10_000).toISOString();
      const fresh = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`new${i}`, new Date(Date.now() - i * 10).toISOString()]));
      writeFileSync(join(dir, 'state.json'), JSON.stringify({ first_turn_pending: { stale1: old, stale2: old, ...fresh } }));
      const config = resolveConfig({ home: dir, dispatch: join(FIXTURES, 'dispatch.js'), threads: 1, tickMs: 50, idleMs: 3_600_000, firstTurnTtlMs: 5000, firstTurnMax: 5 }, {});
      const daemon = await Daemon.start(config, { log: silent, env: {} });
      await until('pruned', () => Object.keys(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).first_turn_pending).length === 5);
      const kept = Object.keys(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).first_turn_pending).sort();
      assert.deepEqual(kept, ['new0', 'new1', 'new2', 'new3', 'new4']);
      await daemon.close();
    } finally {
      cleanup();
    }
  });
});
