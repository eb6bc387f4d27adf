import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULTS, resolveConfig } from '../src/config.js';

test('defaults: socket derives from home; everything finite', () => {
  const c = resolveConfig({ home: '/tmp/h' }, {});
  assert.equal(c.socket, '/tmp/h/daemon.sock');
  assert.equal(c.maxLineBytes, 1024 * 1024);
  assert.ok(Object.isFrozen(c));
  for (const k of ['maxQueue', 'maxInFlight', 'maxConnections', 'maxWriteBuffer', 'slowReaderTimeoutMs', 'drainTimeoutMs'] as const) {
    assert.ok(Number.isFinite(c[k]) && c[k] > 0, k);
  }
});

test('flags win over env, env over defaults', () => {
  const env = { DISPATCHD_HOME: '/tmp/e', DISPATCHD_THREADS: '3', DISPATCHD_SOCKET: '/tmp/e.sock' };
  const c = resolveConfig({ threads: 5 }, env);
  assert.equal(c.home, '/tmp/e');
  assert.equal(c.threads, 5);
  assert.equal(c.socket, '/tmp/e.sock');
  assert.equal(resolveConfig({}, {}).threads, DEFAULTS.threads);
});

test('bad values are rejected with the option named', () => {
  assert.throws(() => resolveConfig({ threads: 0 }, {}), (e: Error) => e instanceof ConfigError && /--threads/.test(e.message));
  assert.throws(() => resolveConfig({}, { DISPATCHD_MAX_QUEUE: 'lots' }), /DISPATCHD_MAX_QUEUE/);
  assert.throws(() => resolveConfig({}, { DISPATCHD_LOG_LEVEL: 'loud' }), /--log-level/);
  assert.throws(() => resolveConfig({ nope: 1 } as never, {}), /unknown option: nope/);
});

test('relative paths resolve against cwd', () => {
  const c = resolveConfig({ home: 'rel' }, {}, '/srv');
  assert.equal(c.home, '/srv/rel');
});
