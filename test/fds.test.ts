/**
 * The connection limit under a low fd limit: fds are kept aside for the
 * threads actually running (and the next to start), not for every thread
 * the pool may ever start; as threads start, the limit reported in
 * `status` follows them, and connections already accepted are answered to
 * the end. Needs util-linux `prlimit`; skipped with the reason where absent.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, Conn, FIXTURE, killChild, spawnCli, tmpHome, waitForSocket } from './helper.js';
import type { ConnectionsStatus, SocketStatusReply } from '../src/lifecycle/status-reply.js';

const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;

async function status(c: Conn, n: number): Promise<{ connections: ConnectionsStatus; threads: number }> {
  c.send({ type: 'status' });
  const s = (await c.json(n, 10_000)) as unknown as SocketStatusReply;
  return { connections: s.connections, threads: s.pool.threads_started };
}

describe('fds', () => {
  test('under --nofile=200, the connection limit follows the threads running; accepted connections are answered to the end', { skip: hasPrlimit ? false : 'prlimit (util-linux) is not installed' }, async () => {
    const { dir, cleanup } = tmpHome();
    const sock = join(dir, 'daemon.sock');
    const args = ['serve', '--home', dir, '--dispatch', FIXTURE, '--max-connections', '1000', '--thread-idle-ms', '60000'];
    const d = spawnCli([], {}, { shell: `exec prlimit --nofile=200 '${process.execPath}' '${BIN}' ${args.map((a) => `'${a}'`).join(' ')}` });
    const conns: Conn[] = [];
    try {
      await waitForSocket(sock);
      const watch = await Conn.open(sock);
      conns.push(watch);
      const first = await status(watch, 1);
      assert.equal(first.connections.fd_limit, 200);
      assert.equal(first.connections.fd_reserve, 64 + 7 * (first.threads + 1), 'the reserve counts the threads started, and the next');
      // Before, fds were kept for all 17 threads that might start, and the limit fell to 1.
      assert.ok(first.connections.max >= 40, `limit ${first.connections.max} with ${first.threads} threads`);
      // Fill part of the room with connections that stay open and will be used later.
      const held = await Promise.all(Array.from({ length: 20 }, () => Conn.open(sock)));
      conns.push(...held);
      // Blocking calls start more threads.
      const burst = await Conn.open(sock);
      conns.push(burst);
      for (let i = 0; i < 8; i++) burst.send(`{"jsonrpc":"2.0","id":${i},"method":"sleep","params":{"ms":800}}\n`);
      let now = first;
      const deadline = Date.now() + 10_000;
      let n = 1;
      while (now.threads < first.threads + 4 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        now = await status(watch, ++n);
      }
      assert.ok(now.threads >= first.threads + 4, `threads ${first.threads} → ${now.threads}`);
      assert.equal(now.connections.fd_reserve, 64 + 7 * (now.threads + 1));
      // The limit moved by exactly the fds the new threads were given.
      assert.equal(now.connections.max, Math.max(1, first.connections.max - 7 * (now.threads - first.threads)));
      // Every connection accepted before is answered, whatever the limit is now.
      held.forEach((c, i) => c.send(`{"jsonrpc":"2.0","id":"h${i}","method":"echo","params":[${i}]}\n`));
      for (const [i, c] of held.entries()) assert.deepEqual((await c.json(1, 10_000)).result, [i]);
      const answers = (await burst.waitLines(8, 10_000)).map((l) => JSON.parse(l) as { result?: unknown });
      for (const a of answers) assert.deepEqual(a.result, { slept: 800 });
    } finally {
      for (const c of conns) c.close();
      await killChild(d);
      cleanup();
    }
  });
});
