/**
 * Reachable early (cold start): the daemon listens before its pool is warm.
 * Control messages are answered at once, a call sent in the first
 * milliseconds after spawn waits for its thread and is answered, and a
 * module that fails to load after the daemon listened still answers the
 * calls it received (-32001, naming the failure) and exits 1.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE, FIXTURES, spawnCli, tmpHome, type Child, Conn, connectEarly } from './helper.js';
import type { SocketStatusReply } from '../src/lifecycle/status-reply.js';

/** The first `n` reply lines of `c`, parsed (waiting up to 20 s: a module may still be loading). */
async function replies(c: Conn, n: number): Promise<Record<string, unknown>[]> {
  return (await c.waitLines(n, 20_000)).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `dispatchd serve --home <a temp home> ...args`, stopped and its home removed after the test — in that order. */
function serve(t: TestContext, args: string[]): { dir: string; d: Child } {
  const { dir, cleanup } = tmpHome();
  const d = spawnCli(['serve', '--home', dir, ...args]);
  // After-hooks run in the order they were added: one hook, so the daemon stops before its home goes.
  t.after(async () => {
    await stop(d);
    cleanup();
  });
  return { dir, d };
}

async function stop(d: Child): Promise<void> {
  if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGTERM');
  const t = setTimeout(() => d.proc.kill('SIGKILL'), 15_000);
  await d.exited;
  clearTimeout(t);
}

test('a call sent the moment the socket accepts is answered, not refused', async (t) => {
  const { dir, d } = serve(t, ['--dispatch', FIXTURE, '--log-level', 'warn']);
  const s = await connectEarly(join(dir, 'daemon.sock'), d);
  s.send('{"jsonrpc":"2.0","id":1,"method":"echo","params":{"early":true}}\n');
  const [reply] = await replies(s, 1);
  s.close();
  assert.deepEqual(reply, { jsonrpc: '2.0', id: 1, result: { early: true } });
});

test('control messages are answered while the module is still loading; calls wait for it', async (t) => {
  const { dir, d } = serve(t, ['--dispatch', join(FIXTURES, 'slow-import.js'), '--log-level', 'warn']);
  const s = await connectEarly(join(dir, 'daemon.sock'), d);
  const sent = Date.now();
  s.send('{"jsonrpc":"2.0","id":"call","method":"echo","params":[1]}\n{"type":"status"}\n');
  const [first] = await replies(s, 1);
  const statusMs = Date.now() - sent;
  assert.equal(first?.ok, true, 'status answers first: it does not wait for the module');
  assert.equal((first as unknown as SocketStatusReply | undefined)?.pool.module, 'loading', 'and says the module is still loading');
  assert.ok(statusMs < 1200, `status took ${statusMs} ms, the module takes 1500 ms to load`);
  const [, second] = await replies(s, 2);
  assert.deepEqual(second, { jsonrpc: '2.0', id: 'call', result: [1] });
  s.send('{"type":"status"}\n');
  const [, , after] = await replies(s, 3);
  s.close();
  assert.equal((after as unknown as SocketStatusReply | undefined)?.pool.module, 'loaded');
});

test('a module that fails to load after the daemon listened: calls received are answered -32001, then exit 1', async (t) => {
  const { dir, d } = serve(t, ['--dispatch', join(FIXTURES, 'bad-import.js'), '--log-level', 'warn']);
  let s: Conn;
  try {
    s = await connectEarly(join(dir, 'daemon.sock'), d, 10_000);
  } catch {
    // The failure won the race: the start ended before a client got in, which is also right.
    assert.equal(await d.exited, 1);
    assert.match(d.stderr, /failed to start/);
    return;
  }
  s.send('{"jsonrpc":"2.0","id":7,"method":"echo","params":{}}\n');
  const [reply] = await replies(s, 1).catch(() => [undefined]);
  s.close();
  assert.equal(await d.exited, 1);
  assert.match(d.stderr, /failed to start/);
  // Received before the failure was known: answered with it. (A call that raced the stop may see EOF.)
  if (reply !== undefined) {
    const error = reply.error as { code: number; message: string };
    assert.equal(error.code, -32001);
    assert.match(error.message, /load/);
  }
});

test('SIGTERM the moment the socket answers, while threads are still loading: a clean exit 0 every time', async () => {
  // Threads terminated while their entry module loads once aborted the whole
  // process (a V8 fatal error under require(esm)); about one start in fifty hit it.
  for (let i = 0; i < 20; i++) {
    const { dir, cleanup } = tmpHome();
    const d = spawnCli(['serve', '--home', dir, '--dispatch', FIXTURE, '--log-level', 'warn']);
    try {
      const s = await connectEarly(join(dir, 'daemon.sock'), d);
      s.close();
      d.proc.kill('SIGTERM');
      const code = await d.exited;
      assert.equal(d.proc.signalCode, null, `run ${i}: killed by ${d.proc.signalCode}: ${d.stderr.slice(-500)}`);
      assert.equal(code, 0, `run ${i}: ${d.stderr.slice(-500)}`);
    } finally {
      await stop(d);
      cleanup();
    }
  }
});

test('a module that never loads: calls received are answered -32001, a pause is not written, state.json is as it was', async (t) => {
  const { dir, d } = serve(t, ['--dispatch', join(FIXTURES, 'hang-import.js'), '--dispatch-load-timeout-ms', '1500', '--log-level', 'warn']);
  const s = await connectEarly(join(dir, 'daemon.sock'), d);
  s.send('{"jsonrpc":"2.0","id":"waiting","method":"echo","params":{}}\n{"type":"pause"}\n');
  const got = await replies(s, 2);
  s.close();
  assert.equal(await d.exited, 1);
  assert.match(d.stderr, /did not load within 1500 ms/);
  const call = got.find((r) => r.id === 'waiting');
  assert.equal((call?.error as { code: number } | undefined)?.code, -32001, JSON.stringify(got));
  const pause = got.find((r) => !('jsonrpc' in r));
  assert.equal(pause?.ok, false);
  assert.equal(pause?.reason, 'state_write_failed');
  assert.equal(existsSync(join(dir, 'state.json')), false, 'a failed start wrote nothing');
});

test('SIGTERM while the module is still loading ends the start at once: exit 0, nothing written', async (t) => {
  const { dir, d } = serve(t, ['--dispatch', join(FIXTURES, 'hang-import.js'), '--log-level', 'warn']);
  const s = await connectEarly(join(dir, 'daemon.sock'), d);
  s.close();
  const asked = Date.now();
  d.proc.kill('SIGTERM');
  assert.equal(await d.exited, 0, d.stderr);
  assert.ok(Date.now() - asked < 5000, `took ${Date.now() - asked} ms; the load bound is 30 s`);
  assert.equal(existsSync(join(dir, 'state.json')), false);
});
