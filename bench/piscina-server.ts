/**
 * A reference point, not a product: the smallest hand-written piscina
 * server that speaks the same NDJSON JSON-RPC (one `piscina.run` per call,
 * no batching, no lanes, no fate rules, no bounds), running the bench
 * fixture's `dispatch` on `cores` threads, and answering `{"type":"status"}`
 * on the main thread. Measured in the same run as dispatchd, it shows what
 * this machine gives any piscina server, so a figure dispatchd misses can be
 * told apart from one the machine does not allow.
 *   node dist/bench/piscina-server.js SOCKET
 */
import { createServer } from 'node:net';
import { unlinkSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import split2 from 'split2';

const path = process.argv[2];
if (!path) throw new Error('usage: piscina-server SOCKET');
try {
  unlinkSync(path);
} catch {
  // not there
}
const threads = Math.max(2, availableParallelism());
const pool = new Piscina({ filename: new URL('./piscina-worker.js', import.meta.url).href, minThreads: threads, maxThreads: threads });
const server = createServer((socket) => {
  socket.on('error', () => {});
  socket.pipe(split2()).on('data', (line: string) => {
    let msg: { id?: unknown; method?: unknown; params?: unknown; type?: unknown };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } })}\n`);
      return;
    }
    if (msg.type === 'status') {
      socket.write(`${JSON.stringify({ type: 'status', threads: pool.threads.length, queued: pool.queueSize })}\n`);
      return;
    }
    const id = msg.id ?? null;
    pool.run({ method: msg.method, params: msg.params ?? {} }).then(
      (result: unknown) => socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, result: result ?? null })}\n`),
      (err: unknown) => socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32001, message: String(err) } })}\n`),
    );
  });
});
server.listen(path, () => process.stdout.write('ready\n'));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => void pool.destroy().then(() => process.exit(0))));
