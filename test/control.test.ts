/** SPEC §3 control plane and §4 state file, over the real socket. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync, readdirSync, mkdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Conn, roundTrip, startDaemon, tmpHome, type Running } from './helper.js';
import { resolveConfig } from '../src/config.js';
import { Daemon } from '../src/daemon.js';
import { silent, FIXTURE } from './helper.js';
import { ControlPlane } from '../src/lifecycle/control.js';
import { StateStore } from '../src/lifecycle/state.js';
import { status } from './status.js';

let d: Running;
before(async () => {
  d = await startDaemon();
});
after(() => d.close());

const disk = (): Record<string, unknown> => JSON.parse(readFileSync(join(d.home, 'state.json'), 'utf8')) as Record<string, unknown>;
const send = (msg: object): Promise<Record<string, unknown>> => roundTrip(d.socket, msg);
const invalid = (r: Record<string, unknown>): void => {
  assert.equal(r.ok, false);
  assert.equal(r.reason, 'invalid_message');
  assert.equal(typeof r.error, 'string');
};

describe('status', () => {
  test('has the original keys with their defaults, then live metrics', async () => {
    const r = await status(d.socket);
    for (const k of ['ok', 'state', 'fsm_state', 'uptime_sec', 'version', 'last_tick_at', 'quiet_window', 'pending_digest', 'daemon_started_at', 'scheduler_paused']) {
      assert.ok(k in r, k);
    }
    assert.equal(r.ok, true);
    assert.equal(r.state, 'WAKE');
    assert.equal(r.fsm_state, 'WAKE');
    assert.equal(typeof r.uptime_sec, 'number');
    assert.equal(r.pending_digest, null);
    assert.equal(r.scheduler_paused, false);
    assert.equal(r.daemon_started_at, disk().daemon_started_at);
    const pool = r.pool;
    for (const k of ['threads', 'queue_size', 'utilization', 'completed', 'wait_ms', 'run_ms']) assert.ok(k in pool, k);
    assert.ok('connections' in r && 'in_flight' in r && 'last_activity_ts' in r);
    assert.equal(r.config.home, d.home, 'the resolved config is shown');
  });
});

describe('status: pending_digest and uptime_sec', () => {
  const digestOf = async (value: unknown): Promise<unknown> => {
    const { dir, cleanup } = tmpHome();
    try {
      writeFileSync(join(dir, 'state.json'), JSON.stringify({ pending_digest: value }));
      const config = resolveConfig({ home: dir, dispatch: FIXTURE, threads: 1 }, {});
      const daemon = await Daemon.start(config, { log: silent, env: {} });
      try {
        return (await roundTrip(config.socket, { type: 'status' })).pending_digest;
      } finally {
        await daemon.close();
      }
    } finally {
      cleanup();
    }
  };

  test('an object in the state gives exactly the four counters, missing ones defaulted', async () => {
    assert.deepEqual(await digestOf({}), { rem_cycles_completed: 0, episodes_processed: 0, schemas_induced_tier0: 0, claude_call_used: false });
    assert.deepEqual(await digestOf({ rem_cycles_completed: 3, claude_call_used: true, secret: 'x', episodes: 9 }), {
      rem_cycles_completed: 3,
      episodes_processed: 0,
      schemas_induced_tier0: 0,
      claude_call_used: true,
    });
    assert.deepEqual(await digestOf({ rem_cycles_completed: 1, episodes_processed: 2, schemas_induced_tier0: 4, claude_call_used: false }), {
      rem_cycles_completed: 1,
      episodes_processed: 2,
      schemas_induced_tier0: 4,
      claude_call_used: false,
    });
  });

  test('anything else is null', async () => {
    for (const v of [null, 5, 'digest', [1, 2], true]) assert.equal(await digestOf(v), null, JSON.stringify(v));
  });

  test('uptime_sec is seconds as a number, fractions kept', async () => {
    const started = '2026-01-01T00:00:00.000Z';
    const path = join(d.home, 'unit-state.json');
    const plane = new ControlPlane({
      state: new StateStore(path, { others: {}, daemon_started_at: started }),
      firstTurn: { firstTurnTtlMs: 1000, firstTurnMax: 10, firstTurnMaxBytes: 4096 },
      version: 'v',
      metrics: () => ({}),
      now: () => new Date(Date.parse(started) + 1500),
    });
    const r = await plane.handle({ type: 'status' });
    assert.equal(r.uptime_sec, 1.5);
    assert.equal(typeof (await send({ type: 'status' })).uptime_sec, 'number');
  });
});

describe('user_initiated_sleep', () => {
  test('sets the request (reason clipped to 500) and answers TRANSITIONING', async () => {
    const r = await send({ type: 'user_initiated_sleep', reason: 'r'.repeat(600), ts: '2026-01-01T00:00:00Z' });
    assert.deepEqual(r, { ok: true, state: 'TRANSITIONING' });
    assert.deepEqual(disk().user_sleep_request, { reason: 'r'.repeat(500), ts: '2026-01-01T00:00:00Z', pending: true });
    assert.equal(disk().fsm_state ?? 'WAKE', 'WAKE', 'the control plane never transitions');
  });
  test('missing or non-string reason / ts → invalid_message', async () => {
    invalid(await send({ type: 'user_initiated_sleep', ts: 'x' }));
    invalid(await send({ type: 'user_initiated_sleep', reason: 5, ts: 'x' }));
    invalid(await send({ type: 'user_initiated_sleep', reason: 'x' }));
    invalid(await send({ type: 'user_initiated_sleep', reason: 'x', ts: 1 }));
  });
});

describe('force_wake / force_rem', () => {
  test('queue their requests', async () => {
    assert.deepEqual(await send({ type: 'force_wake', ts: 't1' }), { ok: true, reason: 'wake_queued' });
    assert.deepEqual(disk().force_wake_request, { ts: 't1', pending: true });
    assert.deepEqual(await send({ type: 'force_rem', ts: 't2' }), { ok: true, reason: 'rem_queued' });
    assert.deepEqual(disk().force_rem_request, { ts: 't2', pending: true });
  });
  test('ts is required and a string', async () => {
    invalid(await send({ type: 'force_wake' }));
    invalid(await send({ type: 'force_rem', ts: null }));
    invalid(await send({ type: 'force_rem', ts: 3 }));
  });
});

describe('pause / resume', () => {
  test('toggle scheduler_paused, on disk', async () => {
    assert.deepEqual(await send({ type: 'pause' }), { ok: true, paused: true });
    assert.equal(disk().scheduler_paused, true);
    assert.equal((await send({ type: 'status' })).scheduler_paused, true);
    assert.deepEqual(await send({ type: 'resume', seconds: 10 }), { ok: true, paused: false });
    assert.equal(disk().scheduler_paused, false);
  });
  test('seconds must be an integer, not a bool, and null is not absent', async () => {
    for (const seconds of [true, false, 1.5, '3', null, [], {}]) {
      for (const type of ['pause', 'resume']) {
        const r = await send({ type, seconds });
        invalid(r);
        assert.equal(r.error, 'seconds must be an int', `${type} ${JSON.stringify(seconds)}`);
      }
    }
    assert.equal(disk().scheduler_paused, false, 'nothing was applied');
    assert.deepEqual(await send({ type: 'pause', seconds: 30 }), { ok: true, paused: true });
    await send({ type: 'resume' });
  });
});

describe('pause / resume: seconds as the original reads JSON', () => {
  test('a number written with a fraction or exponent is a float there, not an int; any integer text is one', async () => {
    for (const text of ['1.0', '1e2', '1E2', '0.0', '-1.0e0', '30e-1']) {
      for (const type of ['pause', 'resume']) {
        const r = await roundTrip(d.socket, `{"type":"${type}","seconds":${text}}\n`);
        assert.deepEqual(r, { ok: false, reason: 'invalid_message', error: 'seconds must be an int' }, `${type} ${text}`);
      }
    }
    // In a batch the same rule applies, element by element.
    const c = await Conn.open(d.socket);
    try {
      c.send('[{"type":"pause","seconds":5.0},{"type":"resume","seconds":5}]\n');
      assert.deepEqual(JSON.parse((await c.waitLines(1))[0] as string), [
        { ok: false, reason: 'invalid_message', error: 'seconds must be an int' },
        { ok: true, paused: false },
      ]);
    } finally {
      c.close();
    }
    for (const text of ['-0', '-5', '18446744073709551617']) {
      assert.deepEqual(await roundTrip(d.socket, `{"type":"resume","seconds":${text}}\n`), { ok: true, paused: false }, text);
    }
    // Only the message's own `seconds` counts.
    assert.deepEqual(await roundTrip(d.socket, '{"type":"resume","x":{"seconds":1.5}}\n'), { ok: true, paused: false });
  });
});

describe('session_open', () => {
  test('records the session, the pending first turn and the cascade request', async () => {
    const sid = 's'.repeat(200);
    assert.deepEqual(await send({ type: 'session_open', session_id: sid, ts: 'T' }), { ok: true, reason: 'session_open_queued' });
    const s = disk();
    assert.deepEqual(s.last_session_open, { session_id: 's'.repeat(128), ts: 'T' });
    assert.equal(typeof (s.first_turn_pending as Record<string, string>)['s'.repeat(128)], 'string');
    assert.deepEqual(s.hippea_cascade_request, { session_id: 's'.repeat(128), ts: 'T', pending: true });
  });
  test('first_turn_pending is bounded in bytes on insert, newest kept', async () => {
    const small = await startDaemon({ firstTurnMaxBytes: 1024 });
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(200)}`);
      for (const id of ids) {
        await roundTrip(small.socket, { type: 'session_open', session_id: id, ts: 't' });
        await new Promise((r) => setTimeout(r, 2)); // distinct timestamps
      }
      const s = JSON.parse(readFileSync(join(small.home, 'state.json'), 'utf8'));
      const kept = Object.keys(s.first_turn_pending);
      const bytes = kept.reduce((n, k) => n + Buffer.byteLength(JSON.stringify(k)) + Buffer.byteLength(s.first_turn_pending[k]) + 4, 0);
      assert.ok(bytes <= 1024, `${bytes} bytes kept`);
      // 128 chars clipped: 130 bytes of JSON key + 24 of time + 4 = 158 per entry → 6 fit.
      assert.deepEqual(kept, ids.slice(-6).map((id) => id.slice(0, 128)));
    } finally {
      await small.close();
    }
  });

  test('first_turn_pending is capped on insert, newest kept', async () => {
    const small = await startDaemon({ firstTurnMax: 3 });
    try {
      for (let i = 0; i < 6; i++) {
        await roundTrip(small.socket, { type: 'session_open', session_id: `s${i}`, ts: 't' });
        await new Promise((r) => setTimeout(r, 2)); // distinct timestamps
      }
      const s = JSON.parse(readFileSync(join(small.home, 'state.json'), 'utf8'));
      assert.deepEqual(Object.keys(s.first_turn_pending).sort(), ['s3', 's4', 's5']);
    } finally {
      await small.close();
    }
  });

  test('both fields are optional but must be strings; null is a wrong type', async () => {
    for (const [key, value] of [['session_id', 5], ['ts', {}], ['session_id', null], ['ts', null], ['session_id', true], ['ts', ['x']]] as const) {
      const r = await send({ type: 'session_open', [key]: value });
      invalid(r);
      assert.equal(r.error, `${key} must be a string`);
    }
  });

  test('a bare session_open stores "" for both fields, never a value the daemon made up', async () => {
    const before = Date.now();
    assert.deepEqual(await send({ type: 'session_open' }), { ok: true, reason: 'session_open_queued' });
    const s = disk();
    assert.deepEqual(s.last_session_open, { session_id: '', ts: '' });
    assert.deepEqual(s.hippea_cascade_request, { session_id: '', ts: '', pending: true });
    const at = (s.first_turn_pending as Record<string, string>)[''];
    assert.equal(typeof at, 'string');
    assert.match(at as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.ok(Date.parse(at as string) >= before - 1000);
    await send({ type: 'session_open', session_id: 'only-id' });
    assert.deepEqual(disk().last_session_open, { session_id: 'only-id', ts: '' });
    await send({ type: 'session_open', ts: 'only-ts' });
    assert.deepEqual(disk().hippea_cascade_request, { session_id: '', ts: 'only-ts', pending: true });
  });

  test('session ids are clipped to 128 characters, counted as code points', async () => {
    const sid = '😀'.repeat(130);
    await send({ type: 'session_open', session_id: sid, ts: 'T' });
    assert.equal((disk().last_session_open as { session_id: string }).session_id, '😀'.repeat(128));
  });

  test('any key is stored in the state maps: __proto__, constructor, toString', async () => {
    for (const sid of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__defineGetter__']) {
      assert.deepEqual(await send({ type: 'session_open', session_id: sid, ts: 'T' }), { ok: true, reason: 'session_open_queued' });
      const s = disk();
      assert.deepEqual(s.last_session_open, { session_id: sid, ts: 'T' });
      const pending = s.first_turn_pending as Record<string, unknown>;
      assert.ok(Object.hasOwn(pending, sid), sid);
      assert.equal(typeof pending[sid], 'string', sid);
    }
  });
});

describe('state file', () => {
  test('is 0600 and stays valid JSON under many concurrent control messages from several clients', async () => {
    const conns = await Promise.all(Array.from({ length: 6 }, () => Conn.open(d.socket)));
    conns.forEach((c, k) => {
      for (let i = 0; i < 40; i++) c.send({ type: i % 2 ? 'pause' : 'session_open', session_id: `c${k}-${i}`, ts: 'x' });
    });
    await Promise.all(conns.map((c) => c.waitLines(40)));
    for (const c of conns) c.close();
    const s = disk();
    const pending = s.first_turn_pending as Record<string, string>;
    for (let k = 0; k < 6; k++) for (let i = 0; i < 40; i += 2) assert.ok(`c${k}-${i}` in pending, `c${k}-${i}`);
    assert.equal(statSync(join(d.home, 'state.json')).mode & 0o777, 0o600);
    assert.equal(readdirSync(d.home).filter((f) => f.endsWith('.tmp')).length, 0, 'no temp files left');
  });

  test('a failed write answers state_write_failed, keeps the old file, and the daemon serves on', async () => {
    // A full filesystem: a tiny tmpfs as home (needs root), else a read-only home (needs non-root).
    const { dir, cleanup } = tmpHome();
    const root = process.getuid?.() === 0;
    if (root) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128k,mode=0700', 'tmpfs', dir]);
    const config = resolveConfig({ home: dir, dispatch: FIXTURE, threads: 1 }, {});
    const daemon = await Daemon.start(config, { log: silent, env: {} });
    assert.equal((await roundTrip(config.socket, { type: 'pause' })).ok, true);
    const before = readFileSync(join(dir, 'state.json'), 'utf8');
    if (root) {
      try {
        writeFileSync(join(dir, 'filler'), Buffer.alloc(1024 * 1024));
      } catch {
        // ENOSPC: the filesystem is now full, as intended
      }
    } else {
      chmodSync(dir, 0o500);
    }
    try {
      const r = await roundTrip(config.socket, { type: 'session_open', session_id: 'x'.repeat(100), ts: 'never' });
      assert.equal(r.ok, false);
      assert.equal(r.reason, 'state_write_failed');
      assert.equal(typeof r.error, 'string');
      assert.ok(String(r.error).length <= 200);
      assert.equal(readFileSync(join(dir, 'state.json'), 'utf8'), before);
      assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0, 'no temp file left behind');
      const status = await roundTrip(config.socket, { type: 'status' });
      assert.equal(status.ok, true);
      assert.equal(status.scheduler_paused, true);
      assert.deepEqual(await roundTrip(config.socket, { jsonrpc: '2.0', id: 1, method: 'echo', params: [1] }), { jsonrpc: '2.0', id: 1, result: [1] });
    } finally {
      if (root) rmSync(join(dir, 'filler'), { force: true });
      else chmodSync(dir, 0o700);
      await daemon.close();
      if (root) execFileSync('umount', ['-l', dir]);
      cleanup();
    }
  });
});

describe('state file at start', () => {
  test('a corrupt file is moved aside and the daemon starts from {}', async () => {
    const { dir, cleanup } = tmpHome();
    try {
      writeFileSync(join(dir, 'state.json'), '{not json');
      const daemon = await Daemon.start(resolveConfig({ home: dir, dispatch: FIXTURE, threads: 1 }, {}), { log: silent, env: {} });
      const aside = readdirSync(dir).filter((f) => f.startsWith('state.json.corrupt-'));
      assert.equal(aside.length, 1);
      assert.equal(readFileSync(join(dir, aside[0] as string), 'utf8'), '{not json');
      const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
      assert.equal(typeof s.daemon_started_at, 'string');
      await daemon.close();
      assert.equal(typeof JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).daemon_stopped_at, 'string');
    } finally {
      cleanup();
    }
  });

  test('any key survives persist and reload; unknown keys are kept; wrong types are reset with one warning', async () => {
    const { dir, cleanup } = tmpHome();
    try {
      const now = new Date().toISOString();
      writeFileSync(
        join(dir, 'state.json'),
        `{"__proto__":{"x":1},"custom":[1,{"constructor":2}],"first_turn_pending":{"__proto__":"${now}","constructor":"${now}"},` +
          `"fsm_state":7,"scheduler_paused":"yes","last_session_open":{"session_id":null,"ts":"x"},"daemon_pid":"abc","quiet_window":{"from":"22:00"}}`,
      );
      const logs: Record<string, unknown>[] = [];
      const { pino } = await import('pino');
      const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l)) });
      const config = resolveConfig({ home: dir, dispatch: FIXTURE, threads: 1 }, {});
      let daemon = await Daemon.start(config, { log, env: {} });
      const warnings = logs.filter((l) => Array.isArray(l.keys));
      assert.equal(warnings.length, 1);
      assert.deepEqual([...(warnings[0]?.keys as string[])].sort(), ['daemon_pid', 'fsm_state', 'last_session_open', 'scheduler_paused']);
      const r = await roundTrip(config.socket, { type: 'status' });
      assert.equal(r.fsm_state, 'WAKE');
      assert.equal(r.scheduler_paused, false);
      assert.deepEqual(r.quiet_window, { from: '22:00' });
      const read = (): Record<string, unknown> => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as Record<string, unknown>;
      let s = read();
      assert.ok(Object.hasOwn(s, '__proto__'), 'an unknown __proto__ key is written back');
      assert.deepEqual(s['__proto__'], { x: 1 });
      assert.deepEqual(s.custom, [1, { constructor: 2 }]);
      assert.ok(!('fsm_state' in s) && !('scheduler_paused' in s) && !('last_session_open' in s));
      assert.equal(s.daemon_pid, process.pid);
      assert.deepEqual(Object.keys(s.first_turn_pending as object).sort(), ['__proto__', 'constructor']);
      await roundTrip(config.socket, { type: 'session_open', session_id: '__proto__', ts: 'again' });
      await daemon.close();
      daemon = await Daemon.start(config, { log: silent, env: {} });
      try {
        const pending = daemon.state.data.first_turn_pending as Record<string, string>;
        assert.ok(Object.hasOwn(pending, '__proto__') && Object.hasOwn(pending, 'constructor'), 'reloaded as own keys');
        assert.equal(typeof pending['__proto__'], 'string');
        assert.deepEqual(daemon.state.data.last_session_open, { session_id: '__proto__', ts: 'again' });
        s = read();
        assert.deepEqual(Object.keys(s.first_turn_pending as object).sort(), ['__proto__', 'constructor']);
        assert.ok(Object.hasOwn(s, '__proto__'));
      } finally {
        await daemon.close();
      }
    } finally {
      cleanup();
    }
  });

  test('persisted flags survive a restart', async () => {
    const { dir, cleanup } = tmpHome();
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'state.json'), JSON.stringify({ fsm_state: 'SLEEP', scheduler_paused: true }));
      const config = resolveConfig({ home: dir, dispatch: FIXTURE, threads: 1 }, {});
      const daemon = await Daemon.start(config, { log: silent, env: {} });
      const r = await roundTrip(config.socket, { type: 'status' });
      assert.equal(r.fsm_state, 'SLEEP');
      assert.equal(r.state, 'SLEEP');
      assert.equal(r.scheduler_paused, true);
      assert.deepEqual(await roundTrip(config.socket, { type: 'user_initiated_sleep', reason: 'x', ts: 'y' }), { ok: false, reason: 'already_sleeping' });
      await daemon.close();
    } finally {
      cleanup();
    }
  });
});
