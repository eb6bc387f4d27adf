/**
 * Capacity (SPEC §10) against the real server: blocking calls side by side,
 * CPU-bound ones within the CPU slots, and the first burst of a method never
 * seen. Bounds are generous: they tell "side by side" from "in line".
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn, roundTrip, rpc, startDaemon } from './helper.js';
import type { PoolStatus } from '../src/lifecycle/status-reply.js';
import { status as statusReply } from './status.js';

const status = async (socket: string): Promise<PoolStatus> => (await statusReply(socket)).pool;

async function burst(socket: string, method: string, conns: number, per: number): Promise<number> {
  const cs = await Promise.all(Array.from({ length: conns }, () => Conn.open(socket)));
  const t0 = performance.now();
  cs.forEach((c, k) => c.send(Array.from({ length: per }, (_, i) => rpc(`${k}-${i}`, method, { k, i })).join('')));
  await Promise.all(cs.map((c) => c.waitLines(per, 20_000)));
  const ms = performance.now() - t0;
  for (const c of cs) c.close();
  return ms;
}

describe('capacity', () => {
  test('twelve 200 ms blocking calls run side by side, not two at a time', async () => {
    const d = await startDaemon({ threads: 16, cpuThreads: 2 });
    try {
      const once = async (): Promise<number> => {
        const cs = await Promise.all(Array.from({ length: 12 }, () => Conn.open(d.socket)));
        const t0 = performance.now();
        cs.forEach((c, i) => c.send(rpc(i, 'sleep', { ms: 200 })));
        await Promise.all(cs.map((c) => c.waitLines(1, 10_000)));
        for (const c of cs) c.close();
        return performance.now() - t0;
      };
      await once(); // threads start on demand: the first round pays for them
      const ms = await once();
      assert.ok(ms < 900, `12 × 200 ms blocking calls took ${ms.toFixed(0)} ms (two at a time: 1200 ms)`);
      const s = await status(d.socket);
      assert.match(s.lanes.methods.find((m) => m.method === 'sleep')?.why ?? '', /waiting/);
      assert.ok(s.threads_started >= 12, `${s.threads_started} threads`);
    } finally {
      await d.close();
    }
  });

  test('CPU-bound calls never run more than --cpu-threads at once', async () => {
    const d = await startDaemon({ threads: 8, cpuThreads: 1 });
    try {
      await roundTrip(d.socket, rpc(0, 'cpu', { ms: 30 })); // learn its CPU share
      const cs = await Promise.all(Array.from({ length: 4 }, () => Conn.open(d.socket)));
      cs.forEach((c, i) => c.send(rpc(i, 'cpu', { ms: 150 })));
      await new Promise((r) => setTimeout(r, 60));
      const s = await status(d.socket);
      assert.equal(s.running_cpu, 1);
      assert.equal(s.lanes.methods.find((m) => m.method === 'cpu')?.kind, 'cpu');
      await Promise.all(cs.map((c) => c.waitLines(1, 10_000)));
      for (const c of cs) c.close();
    } finally {
      await d.close();
    }
  });

  test('the first burst of a method never seen costs a small multiple of the same burst warm', async () => {
    const d = await startDaemon({});
    try {
      await roundTrip(d.socket, rpc(0, 'echo')); // threads up
      const cold = await burst(d.socket, 'maybe', 16, 32);
      const warm = await burst(d.socket, 'maybe', 16, 32);
      assert.ok(cold <= 4 * warm + 150, `cold ${cold.toFixed(0)} ms vs warm ${warm.toFixed(0)} ms`);
      const s = await status(d.socket);
      assert.equal(s.lanes.methods.find((m) => m.method === 'maybe')?.kind, 'fast');
    } finally {
      await d.close();
    }
  });
});
