/** The client library: ids matched, -32002 when the socket dies, one reconnect. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../src/client.js';
import { ErrorCode, RpcError } from '../src/errors.js';
import { resolveConfig } from '../src/config.js';
import { Daemon } from '../src/daemon.js';
import { FIXTURE, silent, tmpHome } from './helper.js';

test('calls and control messages; errors carry the server code', async () => {
  const { dir, cleanup } = tmpHome();
  const config = resolveConfig({ home: dir, dispatch: FIXTURE, threads: 1 }, {});
  const daemon = await Daemon.start(config, { log: silent, env: {} });
  const client = new Client({ socket: config.socket });
  try {
    const results = await Promise.all([client.call('echo', { a: 1 }), client.call('sleep', { ms: 50 }), client.call('echo', [2])]);
    assert.deepEqual(results, [{ a: 1 }, { slept: 50 }, [2]]);
    assert.equal((await client.control({ type: 'status' })).ok, true);
    await assert.rejects(client.call('nope'), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.MethodNotFound);
  } finally {
    client.close();
    await daemon.close();
    cleanup();
  }
});

test('pending calls reject with -32002 when the daemon goes; the next call reconnects once', async () => {
  const { dir, cleanup } = tmpHome();
  const config = resolveConfig({ home: dir, dispatch: FIXTURE, threads: 1 }, {});
  let daemon = await Daemon.start(config, { log: silent, env: {} });
  const client = new Client({ socket: config.socket, connectTimeoutMs: 1000 });
  try {
    assert.deepEqual(await client.call('echo', [1]), [1]);
    const pending = assert.rejects(client.call('sleep', { ms: 2000 }), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.DaemonUnreachable && /daemon_unreachable/.test(e.message));
    await new Promise((r) => setTimeout(r, 100));
    await daemon.destroy();
    await pending;
    await assert.rejects(client.call('echo'), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.DaemonUnreachable);
    daemon = await Daemon.start(config, { log: silent, env: {} });
    assert.deepEqual(await client.call('echo', [3]), [3], 'reconnected');
  } finally {
    client.close();
    await daemon.close();
    cleanup();
  }
});
