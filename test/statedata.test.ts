/** The DaemonState parse, copy, text and first_turn_pending trim, as pure units. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloneState, parseState, serializeState, trimFirstTurn, emptyMap } from '../src/lifecycle/statedata.js';

test('known keys are typed, unknown keys kept, wrong types reset and named', () => {
  const raw = JSON.parse(
    '{"fsm_state":"DREAMING","scheduler_paused":true,"user_sleep_request":{"reason":"r","ts":"t","pending":true,"extra":1},' +
      '"force_wake_request":{"ts":"t"},"force_rem_request":null,"last_session_open":{"session_id":"s","ts":"t"},' +
      '"first_turn_pending":{"a":"2026-01-01T00:00:00.000Z","b":3},"pending_digest":null,"quiet_window":[1],' +
      '"last_tick_skipped_reason":null,"daemon_pid":1.5,"last_cycle":{"started_at":"x","duration_ms":2,"outcome":"ok","detail":{"n":1}},' +
      '"mine":{"deep":[1]},"__proto__":7}',
  ) as Record<string, unknown>;
  const { state, reset } = parseState(raw);
  assert.deepEqual([...reset].sort(), ['daemon_pid', 'first_turn_pending', 'force_rem_request', 'force_wake_request']);
  assert.equal(state.fsm_state, 'DREAMING');
  assert.equal(state.scheduler_paused, true);
  assert.deepEqual(state.user_sleep_request, { reason: 'r', ts: 't', pending: true }, 'fields it does not know inside a record are dropped');
  assert.equal(state.pending_digest, null);
  assert.deepEqual(state.quiet_window, [1]);
  assert.equal(state.last_tick_skipped_reason, null);
  assert.deepEqual(state.last_cycle, { started_at: 'x', duration_ms: 2, outcome: 'ok', detail: { n: 1 } });
  assert.deepEqual(Object.keys(state.others).sort(), ['__proto__', 'mine']);
  const back = JSON.parse(serializeState(state)) as Record<string, unknown>;
  assert.equal(back['__proto__'], 7);
  assert.deepEqual(back.mine, { deep: [1] });
  assert.ok(!('daemon_pid' in back) && !('force_wake_request' in back));
  assert.equal(parseState({ fsm_state: 'NAPPING' }).reset[0], 'fsm_state');
});

test('a copy shares nothing a mutation can change', () => {
  const { state } = parseState({ force_wake_request: { ts: 't', pending: true }, first_turn_pending: { a: 'x' } });
  const draft = cloneState(state);
  (draft.force_wake_request as { pending: boolean }).pending = false;
  (draft.first_turn_pending as Record<string, string>)['__proto__'] = 'y';
  assert.equal(state.force_wake_request?.pending, true);
  assert.deepEqual(Object.keys(state.first_turn_pending as object), ['a']);
  assert.deepEqual(Object.keys(draft.first_turn_pending as object), ['a', '__proto__']);
  assert.ok(serializeState(draft).includes('"__proto__": "y"'));
});

test('trimFirstTurn: TTL, unreadable times, entry count and bytes; newest kept in their order', () => {
  const now = Date.parse('2026-01-01T00:10:00.000Z');
  const at = (s: number): string => new Date(now - s * 1000).toISOString();
  const map = Object.assign(emptyMap<string>(), { old: at(120), a: at(5), bad: 'not a time', b: at(4), c: at(3), d: at(2) });
  const bounds = { firstTurnTtlMs: 60_000, firstTurnMax: 3, firstTurnMaxBytes: 10_000 };
  assert.deepEqual(Object.keys(trimFirstTurn(map, now, bounds)), ['b', 'c', 'd']);
  // One entry here costs 3 ("a" as JSON) + 24 + 4 = 31 bytes: 70 bytes hold two.
  assert.deepEqual(Object.keys(trimFirstTurn(map, now, { ...bounds, firstTurnMax: 100, firstTurnMaxBytes: 70 })), ['c', 'd']);
  const ok = Object.assign(emptyMap<string>(), { x: at(1) });
  assert.equal(trimFirstTurn(ok, now, bounds), ok, 'nothing to drop: the same map');
});
