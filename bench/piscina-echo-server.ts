/**
 * The floor of dispatchd's shape at start-up: a minimal NDJSON echo server
 * whose answers come from a piscina thread (one, started at once), with
 * nothing else — no config, lock, state, logger or framing of our own.
 * Spawn → its first answer is what node, piscina and one thread boot cost
 * on this machine. Run as its own process:
 *   node dist/bench/piscina-echo-server.js SOCKET
 */
import { createServer } from 'node:net';
import { unlinkSync } from 'node:fs';
import { Piscina } from 'piscina';

const path = process.argv[2];
if (!path) throw new Error('usage: piscina-echo-server SOCKET');
const pool = new Piscina({ filename: new URL('./echo-task.cjs', import.meta.url).href, minThreads: 1, maxThreads: 1 });
try {
  unlinkSync(path);
} catch {
  // not there
}
const server = createServer((socket) => {
  socket.on('error', () => {});
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let id: unknown = null;
      let params: unknown = null;
      try {
        const msg = JSON.parse(line) as { id?: unknown; params?: unknown };
        id = msg.id ?? null;
        params = msg.params ?? null;
      } catch {
        // answer with id null
      }
      void pool.run(params).then((result: unknown) => socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, result })}\n`));
    }
  });
});
server.listen(path);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => void pool.destroy().then(() => process.exit(0))));
