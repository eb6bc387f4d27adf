/**
 * Threads warm for the burst that comes (docs/pool.md): a quiet daemon
 * keeps one slow thread and the fast reserve; a call readies three slow
 * threads at once, each with its module loaded; a wide burst's threads stay
 * while recent demand needed them, then retire one per --thread-idle-ms,
 * down to the quiet floor — never all at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn, FIXTURES, join, roundTrip, rpc } from './helper.js';
import { startDaemon } from './daemons.js';
import type { PoolStatus } from '../src/lifecycle/status-reply.js';
import { status as statusReply, statusUntil } from './status.js';

const status = async (socket: string): Promise<PoolStatus> => (await statusReply(socket)).pool;

/** Polls the pool's status until `done` holds (or fails after `ms`). */
const until = (socket: string, done: (s: PoolStatus) => boolean, ms: number): Promise<PoolStatus> =>
  statusUntil(socket, (s) => s.pool, done, ms);

/** Once `loaded` threads have loaded and 300 ms have passed with no call: the daemon's quiet status. */
async function quietAfter(socket: string, loaded: number): Promise<PoolStatus> {
  await until(socket, (s) => s.threads_loaded === loaded, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  return status(socket);
}

test('a quiet daemon keeps one slow thread and the fast reserve; its first call readies three slow threads at once', async (t) => {
  const d = await startDaemon(t, { threads: 8 });
  const quiet = await quietAfter(d.socket, 2);
  assert.equal(quiet.threads_started, 2, JSON.stringify(quiet));
  assert.equal(quiet.threads_kept_warm, 1, JSON.stringify(quiet));
  // A fast call is a call: the burst it may lead will want slow threads.
  assert.deepEqual((await roundTrip(d.socket, rpc(1, 'echo', { a: 1 }))).result, { a: 1 });
  const warm = await until(d.socket, (s) => s.threads_loaded === 4, 10_000);
  assert.equal(warm.threads_started, 4, JSON.stringify(warm));
  assert.equal(warm.threads_kept_warm, 3, JSON.stringify(warm));
});

test('--quiet-threads 3 keeps three slow threads and the fast reserve however quiet the daemon is', async (t) => {
  const d = await startDaemon(t, { threads: 8, quietThreads: 3 });
  const quiet = await quietAfter(d.socket, 4);
  assert.equal(quiet.threads_started, 4, JSON.stringify(quiet));
  assert.equal(quiet.threads_kept_warm, 3, JSON.stringify(quiet));
});

test('the first call after a quiet spell, a slow one, runs on the quiet thread at once; the threads it readies do not hold it', async (t) => {
  const d = await startDaemon(t, { threads: 8, dispatch: join(FIXTURES, 'heavy-import.js') });
  await until(d.socket, (s) => s.threads_loaded === 2, 10_000);
  const t0 = performance.now();
  assert.deepEqual((await roundTrip(d.socket, rpc(1, 'sleep', { ms: 10 }))).result, { slept: 10 });
  const ms = performance.now() - t0;
  // A boot and the module's import would be over 800 ms.
  assert.ok(ms < 400, `the first slow call took ${ms.toFixed(0)} ms`);
  const warm = await until(d.socket, (s) => s.threads_loaded === 4, 10_000);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await status(d.socket)).threads_started, 4, JSON.stringify(warm));
});

test('--fast-threads 2 --quiet-threads 2: the reserve and the quiet threads are kept whole', async (t) => {
  const d = await startDaemon(t, { threads: 8, fastThreads: 2, quietThreads: 2 });
  const quiet = await quietAfter(d.socket, 4);
  assert.equal(quiet.threads_started, 4, JSON.stringify(quiet));
  assert.equal(quiet.threads_kept_warm, 2, JSON.stringify(quiet));
});

test('a thread kept warm has loaded its module: the first calls on the warm threads do not pay an 800 ms import', async (t) => {
  const d = await startDaemon(t, { threads: 8, dispatch: join(FIXTURES, 'heavy-import.js') });
  assert.deepEqual((await roundTrip(d.socket, rpc(1, 'echo', {}))).result, {});
  await until(d.socket, (s) => s.threads_loaded === 4, 10_000);
  const cs = await Promise.all(Array.from({ length: 3 }, () => Conn.open(d.socket)));
  const t0 = performance.now();
  cs.forEach((c, i) => c.send(rpc(i, 'sleep', { ms: 10 })));
  const answers = await Promise.all(cs.map((c) => c.waitLines(1, 10_000)));
  const ms = performance.now() - t0;
  for (const c of cs) c.close();
  for (const [i, a] of answers.entries()) assert.deepEqual(JSON.parse(a[0] as string).result, { slept: 10 }, `call ${i}`);
  // Three threads, each loaded: three 10 ms calls at once, far below one import (800 ms).
  assert.ok(ms < 400, `three calls on three warm threads took ${ms.toFixed(0)} ms`);
  assert.equal((await status(d.socket)).threads_started, 4);
});

test('a burst of 8 blocking calls keeps its threads for the demand window, then they retire one period at a time', async (t) => {
  const period = 150;
  const d = await startDaemon(t, { threads: 12, threadIdleMs: period });
  const warm = (await status(d.socket)).threads_started;
  const cs = await Promise.all(Array.from({ length: 8 }, () => Conn.open(d.socket)));
  const burstAt = performance.now();
  // Never more than one retirement per period (plus one for timer slack) since the burst began.
  const paced = (s: PoolStatus): void =>
    assert.ok(s.threads_retired_idle <= Math.ceil((performance.now() - burstAt) / period) + 1, `${s.threads_retired_idle} retired in ${((performance.now() - burstAt) / period).toFixed(1)} periods`);
  cs.forEach((c, i) => c.send(rpc(i, 'sleep', { ms: 300 })));
  await Promise.all(cs.map((c) => c.waitLines(1, 20_000)));
  for (const c of cs) c.close();
  const after = await status(d.socket);
  assert.ok(after.threads_started >= 8, JSON.stringify(after));
  assert.ok(after.threads_kept_warm >= 8, JSON.stringify(after));
  // Within the demand window (10 periods) the 8 threads the burst needed stay (piscina may have
  // started a few more than needed; those may go, one per period).
  await new Promise((r) => setTimeout(r, period * 4));
  const inWindow = await status(d.socket);
  assert.ok(inWindow.threads_started >= 8, JSON.stringify(inWindow));
  paced(inWindow);
  // Then one per period, never faster, down to the warm floor.
  const deadline = performance.now() + period * 60;
  let s = inWindow;
  while (s.threads_started > warm && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, period / 3));
    s = await status(d.socket);
    paced(s);
  }
  assert.equal(s.threads_started, warm, JSON.stringify(s));
  assert.ok(s.threads_retired_idle >= after.threads_started - warm, JSON.stringify(s));
  // The retired threads were replaced by nobody: calls still run.
  assert.deepEqual((await roundTrip(d.socket, rpc(1, 'sleep', { ms: 1 }))).result, { slept: 1 });
});
