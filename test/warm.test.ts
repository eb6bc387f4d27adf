/**
 * Threads warm for the burst that comes (docs/pool.md): a wide burst's
 * threads stay while recent demand needed them, then retire one per
 * --thread-idle-ms, down to the warm floor — never all at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn, roundTrip, rpc, startDaemon } from './helper.js';
import type { PoolStatus } from '../src/lifecycle/status-reply.js';
import { status as statusReply } from './status.js';

const status = async (socket: string): Promise<PoolStatus> => (await statusReply(socket)).pool;

test('a burst of 8 blocking calls keeps its threads for the demand window, then they retire one period at a time', async (t) => {
  const period = 150;
  const d = await startDaemon({ threads: 12, threadIdleMs: period });
  t.after(() => d.close());
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
