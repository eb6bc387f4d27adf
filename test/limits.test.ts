/** SPEC §6: every limit, hit for real against the server on a temp socket. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { Conn, roundTrip, sleep, rpc } from './helper.js';
import { startDaemon } from './daemons.js';
import { ErrorCode } from '../src/contract/errors.js';
import { status } from './status.js';

const code = (r: Record<string, unknown>): number | undefined => (r.error as { code?: number } | undefined)?.code;

describe('line length', () => {
  test('a complete or unfinished over-long line is -32600 (with its id when it stands before the cut); the connection stays usable', async (t) => {
    const d = await startDaemon(t, { maxLineBytes: 1024 });
      const c = await Conn.open(d.socket);
      c.send(`{"jsonrpc":"2.0","id":1,"method":"echo","params":{"s":"${'x'.repeat(5000)}"}}\n`);
      c.send(rpc(2, 'echo'));
      // An over-long line arriving slowly, in pieces.
      for (let i = 0; i < 5; i++) {
        c.send('y'.repeat(600));
        await sleep(10);
      }
      c.send('\n');
      c.send(rpc(3, 'echo'));
      const lines = (await c.waitLines(4)).map((l) => JSON.parse(l) as Record<string, unknown>);
      c.close();
      const tooLong = lines.filter((l) => code(l) === ErrorCode.InvalidRequest);
      assert.equal(tooLong.length, 2);
      assert.deepEqual(tooLong.map((t) => t.id), [1, null]);
      for (const t of tooLong) assert.deepEqual((t.error as { data?: unknown }).data, { bound: 'max_line_bytes', limit: 1024 });
      assert.deepEqual(lines.filter((l) => 'result' in l).map((l) => l.id).sort(), [2, 3]);
  });
});

describe('in flight per connection', () => {
  test('reading pauses at the bound and resumes as calls finish', async (t) => {
    const d = await startDaemon(t, { threads: 4, maxInFlight: 2 });
      const c = await Conn.open(d.socket);
      for (let i = 0; i < 6; i++) c.send(rpc(i, 'sleep', { ms: 150 }));
      await sleep(100);
      const s = await status(d.socket);
      assert.equal(s.pool.running, 2, 'only two of the six run');
      const lines = await c.waitLines(6, 5000);
      c.close();
      assert.equal(new Set(lines.map((l) => JSON.parse(l).id)).size, 6);
  });
});

describe('pool queue', () => {
  test('beyond the bound: -32003 at once with a retry hint; nothing queued is lost', async (t) => {
    const d = await startDaemon(t, { threads: 1, maxQueue: 2 });
      const conns = await Promise.all(Array.from({ length: 8 }, () => Conn.open(d.socket)));
      conns.forEach((c, i) => c.send(rpc(i, 'sleep', { ms: 100 })));
      const replies = await Promise.all(conns.map((c) => c.json(1, 5000)));
      for (const c of conns) c.close();
      const overloaded = replies.filter((r) => code(r) === ErrorCode.Overloaded);
      const ok = replies.filter((r) => 'result' in r);
      assert.ok(overloaded.length >= 4, `overloaded ${overloaded.length}`);
      assert.equal(ok.length + overloaded.length, 8);
      assert.ok(ok.length >= 3, 'the running call and the queued ones are all answered');
      for (const r of overloaded) assert.equal(typeof ((r.error as { data?: { retry_after_ms?: number } }).data?.retry_after_ms), 'number');
  });
});

describe('connections', () => {
  test('above the maximum, a new connection gets one error line and is closed', async (t) => {
    const d = await startDaemon(t, { maxConnections: 2 });
      const a = await Conn.open(d.socket);
      const b = await Conn.open(d.socket);
      await sleep(50);
      const c = await Conn.open(d.socket);
      await c.waitEnd();
      assert.equal(c.lines.length, 1);
      assert.equal(code(JSON.parse(c.lines[0] as string)), ErrorCode.Overloaded);
      a.send(rpc(1, 'echo'));
      assert.equal((await a.json(1)).id, 1);
      a.close();
      b.close();
      await sleep(50);
      assert.equal((await roundTrip(d.socket, rpc(2, 'echo'))).id, 2, 'room again once others leave');
  });
});

describe('slow readers', () => {
  test('a client that never reads is paused, then disconnected with a log line; others are unaffected', async (t) => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon(t, { maxWriteBuffer: 64 * 1024, slowReaderTimeoutMs: 400 }, { logs });
      const c = await Conn.open(d.socket);
      c.socket.pause(); // never read
      for (let i = 0; i < 200; i++) c.send(rpc(i, 'big', { bytes: 64 * 1024 }));
      // The paused client can't see the close itself; the daemon's log and status can.
      const t0 = Date.now();
      while (!logs.some((l) => /not reading/.test(String(l.msg)))) {
        assert.ok(Date.now() - t0 < 10_000, 'disconnect logged within 10 s');
        await sleep(50);
      }
      const s = await status(d.socket);
      assert.equal(s.connections.active, 1, 'only the status probe is connected');
      const mem = s.memory.rss_bytes;
      assert.ok(mem < 1024 * 1024 * 1024, `rss ${mem}`);
      c.close();
      assert.equal((await roundTrip(d.socket, rpc('other', 'echo'))).id, 'other');
  });
});

describe('deadline', () => {
  test('a runaway call gets -32004 and its worker is replaced', async (t) => {
    const d = await startDaemon(t, { threads: 1, callDeadlineMs: 300 });
      const t0 = Date.now();
      const r = await roundTrip(d.socket, rpc(1, 'loop'));
      assert.equal(code(r), ErrorCode.DeadlineExceeded);
      assert.ok(Date.now() - t0 < 3000);
      assert.deepEqual(await roundTrip(d.socket, rpc(2, 'echo', [2])), { jsonrpc: '2.0', id: 2, result: [2] });
  });
});

describe('disconnect', () => {
  test("a closed connection's calls that have not started are dropped; running ones finish unseen", async (t) => {
    const d = await startDaemon(t, { threads: 1 });
    const before = (await status(d.socket)).pool;
      const c = await Conn.open(d.socket);
      c.send(rpc(1, 'sleep', { ms: 200 }));
      for (let i = 0; i < 5; i++) c.send(rpc(`q${i}`, 'sleep', { ms: 200 }));
      await sleep(50);
      c.close();
      await sleep(700);
      const after = (await status(d.socket)).pool;
      // EOF alone may be a half-close (still owed answers); the daemon learns the
      // client is gone from the first failed write, so at most one more call
      // per slow thread starts — never the whole queue (6 × 200 ms).
      const ran = after.completed - before.completed;
      assert.ok(ran >= 1 && ran <= 2, `${ran} of 6 calls ran`);
      assert.equal(after.queue_size, 0);
  });

  test('a client that closes with unread answers pending does not keep its queue alive', async (t) => {
    const d = await startDaemon(t, { threads: 1 });
    const before = (await status(d.socket)).pool;
      const c = await Conn.open(d.socket);
      c.socket.pause();
      c.send(rpc(0, 'echo'));
      await sleep(50); // an answer sits unread in the client's buffer
      for (let i = 0; i < 5; i++) c.send(rpc(`q${i}`, 'sleep', { ms: 200 }));
      await sleep(50);
      c.close(); // closing with unread data resets the connection
      await sleep(700);
      const after = (await status(d.socket)).pool;
      assert.ok(after.completed - before.completed <= 3, `${after.completed - before.completed} calls ran`);
      assert.equal(after.queue_size, 0);
  });
});

describe('faults', () => {
  test('a worker over its heap limit is replaced; its call gets -32001', async (t) => {
    const d = await startDaemon(t, { threads: 1, workerHeapMb: 32 });
      const r = await roundTrip(d.socket, rpc(1, 'alloc'));
      assert.equal(code(r), ErrorCode.Internal);
      assert.deepEqual(await roundTrip(d.socket, rpc(2, 'echo', [1])), { jsonrpc: '2.0', id: 2, result: [1] });
  });

  test('a client that disconnects mid-call costs nothing', async (t) => {
    const d = await startDaemon(t);
      for (let i = 0; i < 5; i++) {
        const c = await Conn.open(d.socket);
        c.send(rpc(i, 'sleep', { ms: 100 }));
        await sleep(20);
        c.close();
      }
      await sleep(300);
      assert.equal((await roundTrip(d.socket, rpc('x', 'echo'))).id, 'x');
  });

  test('1000 connect/close cycles leak no file descriptors', async (t) => {
    const d = await startDaemon(t);
      const fds = (): number => readdirSync('/proc/self/fd').length;
      await roundTrip(d.socket, rpc(0, 'echo'));
      // That first call readies the warm slow threads (one boot at a time, each with its own fds):
      // count from when the pool has them all, so only the connections are measured.
      for (let i = 0; i < 200; i++) {
        const p = (await status(d.socket)).pool;
        if (p.threads_loaded === p.threads_started && p.threads_started >= p.threads_kept_warm + 1) break;
        await sleep(25);
      }
      const before = fds();
      for (let i = 0; i < 1000; i++) {
        const c = await Conn.open(d.socket);
        if (i % 2 === 0) {
          c.send(rpc(i, 'echo'));
          await c.json(1);
        }
        c.close();
      }
      await sleep(200);
      const after = fds();
      assert.ok(after <= before + 2, `fds before ${before}, after ${after}`);
    assert.equal((await status(d.socket)).connections.active, 1);
  });
});
