/**
 * A module load that fails in some threads (docs/store.md "Module loads
 * that fail in one thread"). A thread whose load failed exits on the task it
 * was given, before starting a call, and a later thread is tried, so a
 * transient failure does not cost the daemon its capacity for good.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Conn, FIXTURES, join, rpc, roundTrip, spawnCli, tmpHome, waitForSocket, killChild } from './helper.js';
import type { PoolStatus } from '../src/lifecycle/status-reply.js';
import { status } from './status.js';

async function pool(socket: string): Promise<PoolStatus> {
  return (await status(socket)).pool;
}

async function burst(socket: string, n: number, ms: number): Promise<number> {
  const c = await Conn.open(socket);
  const started = Date.now();
  c.send(Array.from({ length: n }, (_, i) => rpc(i, 'sleep', { ms })).join(''));
  await c.waitLines(n, 60_000);
  c.close();
  return Date.now() - started;
}

test('threads whose module failed to load exit; once loads succeed again the pool is whole', { timeout: 120_000 }, async (t) => {
  const { dir, cleanup } = tmpHome();
  const socket = join(dir, 'daemon.sock');
  const flag = join(dir, 'fail-flag');
  const daemon = spawnCli(['serve', '--home', dir, '--dispatch', join(FIXTURES, 'fail-when-file.js')], { FAIL_LOAD_FILE: flag });
  t.after(async () => {
    await killChild(daemon);
    cleanup();
  });
  await waitForSocket(socket);
  for (let i = 0; i < 100 && (await pool(socket)).threads_loaded < 2; i++) await new Promise((r) => setTimeout(r, 100));
  const tasks = (): number => readdirSync(`/proc/${daemon.proc.pid}/task`).length;
  const before = tasks();
  // Loads fail for a while: a burst starts threads that fail to load.
  writeFileSync(flag, '');
  await burst(socket, 12, 50);
  const failed = await pool(socket);
  assert.ok(failed.load_failures > 0, JSON.stringify(failed));
  rmSync(flag);
  // Well past the longest backoff (2 s): every thread that failed has exited.
  await new Promise((r) => setTimeout(r, 5000));
  assert.ok(tasks() <= before, `threads that failed to load are still alive: ${tasks()} OS threads now, ${before} before the failures`);
  // Loads succeed again: 12 blocking calls of 300 ms run side by side, as on a fresh daemon.
  const ms = await burst(socket, 12, 300);
  const after = await pool(socket);
  assert.ok(ms < 1500, `12 x 300 ms blocking calls took ${ms} ms; pool ${JSON.stringify(after)}`);
  assert.ok(after.requeued - failed.requeued < 100, `calls requeued ${after.requeued - failed.requeued} times: ${JSON.stringify(after)}`);
  assert.equal(after.module, 'loaded', JSON.stringify(after));
});
