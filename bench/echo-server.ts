/**
 * The transport ceiling: a minimal inline NDJSON JSON-RPC echo server
 * (parse, answer on the main thread, no pool). Run as its own process:
 *   node dist/bench/echo-server.js SOCKET
 */
import { createServer } from 'node:net';
import { unlinkSync } from 'node:fs';
import split2 from 'split2';

const path = process.argv[2];
if (!path) throw new Error('usage: echo-server SOCKET');
try {
  unlinkSync(path);
} catch {
  // not there
}
const server = createServer((socket) => {
  socket.on('error', () => {});
  socket.pipe(split2()).on('data', (line: string) => {
    let id: unknown = null;
    let params: unknown = null;
    try {
      const msg = JSON.parse(line) as { id?: unknown; params?: unknown };
      id = msg.id ?? null;
      params = msg.params ?? null;
    } catch {
      // answer with id null
    }
    socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, result: params })}\n`);
  });
});
server.listen(path, () => process.stdout.write('ready\n'));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
