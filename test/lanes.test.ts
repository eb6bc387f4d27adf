/** Lanes and batching (docs/pool.md), against the real server. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn, roundTrip, startDaemon, sleep, rpc } from './helper.js';
import { MethodTable } from '../src/pool/lanes.js';
import type { PoolStatus } from '../src/lifecycle/status-reply.js';
import { status } from './status.js';

const pool = async (socket: string): Promise<PoolStatus> => (await status(socket)).pool;

describe('lanes', () => {
  test('with every slow thread busy, a fast call still answers at once', async () => {
    const d = await startDaemon({ threads: 1, fastThreads: 1 });
    try {
      const slow = await Promise.all([0, 1, 2].map(() => Conn.open(d.socket)));
      slow.forEach((c, i) => c.send(rpc(i, 'sleep', { ms: 600 })));
      await sleep(100);
      const t0 = performance.now();
      const r = await roundTrip(d.socket, rpc('fast', 'echo', [1]));
      const ms = performance.now() - t0;
      assert.deepEqual(r.result, [1]);
      assert.ok(ms < 150, `fast call took ${ms.toFixed(1)} ms behind slow ones`);
      const s = await pool(d.socket);
      assert.equal(s.lanes.declared.sleep, 'slow', 'declared lanes are read from the module');
      for (const c of slow) c.close();
    } finally {
      await d.close();
    }
  });

  test('without a fast reserve, the same fast call waits (the reserve is what helps)', async () => {
    const d = await startDaemon({ threads: 1, fastThreads: 0 });
    try {
      const slow = await Conn.open(d.socket);
      slow.send(rpc(1, 'sleep', { ms: 400 }));
      await sleep(50);
      const t0 = performance.now();
      await roundTrip(d.socket, rpc('fast', 'echo'));
      assert.ok(performance.now() - t0 > 200);
      slow.close();
    } finally {
      await d.close();
    }
  });

  test('an undeclared method starts slow, is learned fast, and moves to slow when it turns slow', async () => {
    const d = await startDaemon({ threads: 1, fastThreads: 1, laneThresholdMs: 20 });
    try {
      const laneOf = async (m: string): Promise<string | undefined> => (await pool(d.socket)).lanes.methods.find((x) => x.method === m)?.lane;
      await roundTrip(d.socket, rpc(1, 'maybe', { ms: 0 }));
      assert.equal(await laneOf('maybe'), 'fast');
      for (let i = 0; i < 3; i++) await roundTrip(d.socket, rpc(i, 'maybe', { ms: 120 }));
      assert.equal(await laneOf('maybe'), 'slow');
      assert.equal((await pool(d.socket)).lanes.threshold_ms, 20);
    } finally {
      await d.close();
    }
  });
});

describe('batching', () => {
  test('pipelined fast calls travel in batches and every id is answered exactly once', async () => {
    const d = await startDaemon({ threads: 1, fastThreads: 1 });
    try {
      const conns = await Promise.all([0, 1, 2, 3].map(() => Conn.open(d.socket)));
      conns.forEach((c, k) => c.send(Array.from({ length: 300 }, (_, i) => rpc(`${k}-${i}`, 'echo', { k, i })).join('')));
      const all = await Promise.all(conns.map((c) => c.waitLines(300)));
      all.forEach((lines, k) => {
        const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id);
        assert.equal(new Set(ids).size, 300);
        for (const l of lines) {
          const m = JSON.parse(l) as { id: string; result: { k: number; i: number } };
          assert.equal(m.id, `${k}-${m.result.i}`);
        }
      });
      for (const c of conns) c.close();
      const s = await pool(d.socket);
      assert.ok(s.avg_batch > 1.5, `average batch ${s.avg_batch}`);
    } finally {
      await d.close();
    }
  });

  test('a slow call never rides in a batch with fast ones: they are answered first', async () => {
    const d = await startDaemon({ threads: 1, fastThreads: 1 });
    try {
      const c = await Conn.open(d.socket);
      await roundTrip(d.socket, rpc(0, 'echo'));
      c.send([rpc('a', 'echo'), rpc('b', 'echo'), rpc('slow', 'sleep', { ms: 400 }), rpc('c', 'echo'), rpc('d', 'echo')].join(''));
      const t0 = performance.now();
      await c.waitLines(4);
      assert.ok(performance.now() - t0 < 250, 'the four fast answers did not wait for the slow call');
      assert.deepEqual(c.lines.map((l) => JSON.parse(l).id).sort(), ['a', 'b', 'c', 'd']);
      await c.waitLines(5);
      c.close();
    } finally {
      await d.close();
    }
  });

  test('errors inside a batch are answered individually', async () => {
    const d = await startDaemon({ threads: 1, fastThreads: 1 });
    try {
      for (const m of ['echo', 'fail', 'nope']) await roundTrip(d.socket, rpc(0, m));
      const c = await Conn.open(d.socket);
      c.send(Array.from({ length: 30 }, (_, i) => rpc(i, ['echo', 'fail', 'nope'][i % 3] as string)).join(''));
      const lines = (await c.waitLines(30)).map((l) => JSON.parse(l) as { id: number; error?: { code: number } });
      c.close();
      for (const l of lines) assert.equal(l.error?.code, [undefined, -32001, -32601][l.id % 3]);
    } finally {
      await d.close();
    }
  });
});

describe('method table (the one place that learns per-method timing)', () => {
  const table = (over: Partial<ConstructorParameters<typeof MethodTable>[0]> = {}): MethodTable =>
    new MethodTable({ declared: { d_fast: 'fast', d_slow: 'slow' }, thresholdMs: 10, maxMethods: 100, maxBytes: 64 * 1024, ...over });

  test('kinds: declared, new, fast by run time, cpu or wait by CPU share', () => {
    const t = table();
    assert.equal(t.kindOf('d_fast'), 'fast');
    assert.equal(t.kindOf('d_slow'), 'wait', 'declared slow, not measured yet: may wait');
    assert.equal(t.kindOf('x'), 'new');
    t.record('x', 0.1, undefined);
    assert.equal(t.kindOf('x'), 'fast');
    for (let i = 0; i < 20; i++) t.record('burn', 50, 49);
    assert.equal(t.kindOf('burn'), 'cpu');
    for (let i = 0; i < 20; i++) t.record('nap', 50, 1);
    assert.equal(t.kindOf('nap'), 'wait');
    for (let i = 0; i < 20; i++) t.record('d_slow', 50, 45);
    assert.equal(t.kindOf('d_slow'), 'cpu');
    assert.equal(t.measure('x'), false);
    assert.equal(t.measure('burn'), true);
  });

  test('bounded in entries and in bytes of names; status stays small', () => {
    const t = table({ maxMethods: 50, maxBytes: 16 * 1024 });
    for (let i = 0; i < 1000; i++) t.record(`${'m'.repeat(300)}${i}`, 1, undefined);
    assert.ok(t.size <= 50);
    assert.ok(t.size * 600 <= 16 * 1024, `${t.size} names of 300+ characters kept`);
    assert.equal(t.kindOf(`${'m'.repeat(300)}999`), 'fast', 'the most recent is kept');
    assert.ok(JSON.stringify(t.snapshot()).length < 8 * 1024);
  });
});
