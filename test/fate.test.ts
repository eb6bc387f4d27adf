/**
 * Every call its own fate (SPEC §6), against the real server and threads:
 * results survive their worker, no call runs twice, deadlines are per call,
 * results are bounded, and nothing a module returns takes the daemon down.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Conn, roundTrip, rpc, startDaemon } from './helper.js';
import { ErrorCode } from '../src/contract/errors.js';
import { status } from './status.js';

type Reply = { id: string; result?: { tag?: string }; error?: { code: number; message: string } };
const parse = (lines: string[]): Reply[] => lines.map((l) => JSON.parse(l) as Reply);
const byId = (replies: Reply[]): Map<string, Reply> => new Map(replies.map((r) => [r.id, r]));

describe('fate per call', () => {
  test('a process.exit after completed calls in one batch loses none of their results', async () => {
    const d = await startDaemon({ threads: 1, fastThreads: 1 });
    try {
      const c = await Conn.open(d.socket);
      const steps = [{ tag: 'a' }, { tag: 'b' }, { tag: 'x', exit: true }, { tag: 'c' }, { tag: 'd' }];
      c.send(steps.map((p) => rpc(p.tag, 'step', p)).join(''));
      const r = byId(parse(await c.waitLines(5, 10_000)));
      c.close();
      for (const tag of ['a', 'b', 'c', 'd']) assert.deepEqual(r.get(tag)?.result, { tag }, `${tag} keeps its result`);
      assert.equal(r.get('x')?.error?.code, ErrorCode.Internal, 'only the call that killed its worker fails');
      const s = (await status(d.socket)).pool;
      assert.ok(s.avg_batch > 1, 'the calls did share a batch');
    } finally {
      await d.close();
    }
  });

  test('no call runs twice, whatever kills the workers around it (counted by side effects)', async () => {
    const dir = mkdtempSync('/tmp/dd-fate-');
    const file = join(dir, 'runs.log');
    const d = await startDaemon({ threads: 2, fastThreads: 1 });
    try {
      const conns = await Promise.all([0, 1, 2, 3].map(() => Conn.open(d.socket)));
      const per = 60;
      conns.forEach((c, k) =>
        c.send(
          Array.from({ length: per }, (_, i) => {
            const tag = `${k}-${i}`;
            // One call in twenty kills its worker.
            return rpc(tag, 'step', { tag, file, exit: i % 20 === 7 });
          }).join(''),
        ),
      );
      const replies = (await Promise.all(conns.map((c) => c.waitLines(per, 30_000)))).flatMap(parse);
      for (const c of conns) c.close();
      const runs = readFileSync(file, 'utf8').trim().split('\n');
      const counts = new Map<string, number>();
      for (const t of runs) counts.set(t, (counts.get(t) ?? 0) + 1);
      assert.equal(replies.length, 4 * per, 'every call answered once');
      for (const r of replies) {
        const killer = Number(r.id.split('-')[1]) % 20 === 7;
        assert.equal(counts.get(r.id), 1, `${r.id} ran exactly once`);
        if (killer) assert.equal(r.error?.code, ErrorCode.Internal);
        else assert.deepEqual(r.result, { tag: r.id }, `${r.id}: a victim keeps its result`);
      }
    } finally {
      await d.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('params nested past the edge bound fail their own call only', async () => {
    const d = await startDaemon({ threads: 1, fastThreads: 1 });
    try {
      const deep = '['.repeat(10_000) + ']'.repeat(10_000);
      const c = await Conn.open(d.socket);
      c.send(`${rpc('a', 'echo', { v: 1 })}{"jsonrpc":"2.0","id":"deep","method":"echo","params":${deep}}\n${rpc('b', 'echo', { v: 2 })}`);
      const lines = parse(await c.waitLines(3, 10_000));
      const r = byId(lines);
      c.close();
      assert.deepEqual(r.get('a')?.result, { v: 1 });
      assert.deepEqual(r.get('b')?.result, { v: 2 });
      // Refused by the edge (--max-depth) before anything is queued, with its own id.
      assert.equal(r.get('deep')?.error?.code, ErrorCode.InvalidRequest);
    } finally {
      await d.close();
    }
  });
});

describe('deadline per call', () => {
  test('ten pipelined 30 ms calls under a 100 ms deadline all succeed; a 300 ms call gets -32004', async () => {
    const d = await startDaemon({ threads: 2, fastThreads: 1, callDeadlineMs: 100 });
    try {
      const c = await Conn.open(d.socket);
      c.send(Array.from({ length: 10 }, (_, i) => rpc(`s${i}`, 'step', { tag: `s${i}`, ms: 30 })).join(''));
      const replies = parse(await c.waitLines(10, 10_000));
      for (const r of replies) assert.deepEqual(r.result, { tag: r.id }, `${r.id}: ${JSON.stringify(r.error)}`);
      c.send(rpc('long', 'step', { tag: 'long', ms: 300 }));
      const long = parse(await c.waitLines(11, 10_000))[10];
      assert.equal(long?.error?.code, ErrorCode.DeadlineExceeded);
      c.send(rpc('after', 'echo', [1]));
      assert.deepEqual(parse(await c.waitLines(12, 10_000))[11]?.result, [1]);
      c.close();
    } finally {
      await d.close();
    }
  });

  test('a runaway call in a batch: only it gets -32004, its batch mates are answered', async () => {
    const d = await startDaemon({ threads: 1, fastThreads: 1, callDeadlineMs: 200 });
    try {
      const c = await Conn.open(d.socket);
      const steps = [{ tag: 'a' }, { tag: 'loop', loop: true }, { tag: 'b' }, { tag: 'c' }];
      c.send(steps.map((p) => rpc(p.tag, 'step', p)).join(''));
      const r = byId(parse(await c.waitLines(4, 10_000)));
      c.close();
      assert.equal(r.get('loop')?.error?.code, ErrorCode.DeadlineExceeded);
      for (const tag of ['a', 'b', 'c']) assert.deepEqual(r.get(tag)?.result, { tag });
    } finally {
      await d.close();
    }
  });
});

describe('side effects and deadlines', () => {
  test('a call answered -32004 never made its effect permanent; one answered ok always did', async () => {
    const dir = mkdtempSync('/tmp/dd-commit-');
    const file = join(dir, 'commits.log');
    const d = await startDaemon({ threads: 16, callDeadlineMs: 100 });
    try {
      const conns = await Promise.all([0, 1, 2, 3].map(() => Conn.open(d.socket)));
      // Run times around the deadline, so stops race commits.
      conns.forEach((c, k) => c.send(Array.from({ length: 6 }, (_, i) => rpc(`${k}-${i}`, 'commit', { tag: `${k}-${i}`, file, ms: 60 + 15 * ((k + i) % 6) })).join('')));
      const replies = (await Promise.all(conns.map((c) => c.waitLines(6, 20_000)))).flatMap(parse);
      for (const c of conns) c.close();
      let committed: string[] = [];
      try {
        committed = readFileSync(file, 'utf8').trim().split('\n');
      } catch {
        // nothing committed
      }
      for (const r of replies) {
        const n = committed.filter((t) => t === r.id).length;
        if (r.error?.code === ErrorCode.DeadlineExceeded) assert.equal(n, 0, `${r.id} answered -32004 but committed`);
        else assert.equal(n, 1, `${r.id} answered ${JSON.stringify(r.result ?? r.error)} and committed ${n} times`);
      }
      assert.ok(replies.some((r) => r.error?.code === ErrorCode.DeadlineExceeded), 'some calls did overrun');
    } finally {
      await d.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('store captures answered -32004 are never stored', async () => {
    const d = await startDaemon({ dispatch: null, threads: 2, callDeadlineMs: 60 });
    try {
      const c = await Conn.open(d.socket);
      c.send(Array.from({ length: 64 }, (_, i) => rpc(`c${i}`, 'memory_capture', { text: `capture number ${i} of the deadline test` })).join(''));
      const replies = parse(await c.waitLines(64, 20_000));
      const ok = replies.filter((r) => r.result !== undefined).length;
      c.send(rpc('stats', 'memory_stats'));
      const stats = parse(await c.waitLines(65, 10_000))[64] as unknown as { result: { count: number } };
      c.close();
      assert.equal(stats.result.count, ok, 'stored exactly the captures answered ok');
    } finally {
      await d.close();
    }
  });
});

describe('result size', () => {
  test('a result over --max-result-bytes is -32001 "result too large"; one under it passes', async () => {
    const d = await startDaemon({ maxResultBytes: 100_000 });
    try {
      const big = await roundTrip(d.socket, rpc(1, 'big', { bytes: 200_000 }));
      assert.equal((big.error as { code: number }).code, ErrorCode.Internal);
      assert.match((big.error as { message: string }).message, /result too large/);
      const ok = await roundTrip(d.socket, rpc(2, 'big', { bytes: 90_000 }));
      assert.equal((ok.result as string).length, 90_000);
    } finally {
      await d.close();
    }
  });

  test('a 100 MB string or a 200 MB Buffer with a 64 MiB worker heap: the call fails, the daemon lives', async () => {
    const d = await startDaemon({ workerHeapMb: 64 });
    try {
      for (const [method, mb] of [
        ['huge_string', 100],
        ['huge_buffer', 200],
      ] as const) {
        const r = await roundTrip(d.socket, rpc(method, method, { mb }));
        assert.equal((r.error as { code: number }).code, ErrorCode.Internal, method);
        assert.match((r.error as { message: string }).message, /result too large/);
      }
      assert.deepEqual((await roundTrip(d.socket, rpc(3, 'echo', [3]))).result, [3]);
    } finally {
      await d.close();
    }
  });
});
