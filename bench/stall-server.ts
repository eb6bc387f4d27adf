/**
 * A deliberately stalling NDJSON JSON-RPC server, to show what a probe can
 * and cannot see: every `--every` ms it blocks its main thread for
 * `--stall` ms (a GC pause, a synchronous call done inline). Between stalls
 * it answers at once: `echo` returns its params, `sleep {ms}` answers after
 * ms without blocking, `{"type":"status"}` answers `{"ok":true}`, anything
 * else -32601. Run as its own process:
 *   node dist/bench/stall-server.js SOCKET [--every MS] [--stall MS] [--die-after MS]
 * `--die-after` makes it exit abruptly (a crash in the middle of a run).
 */
import { createServer } from 'node:net';
import { unlinkSync } from 'node:fs';
import { parseArgs } from 'node:util';
import split2 from 'split2';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { every: { type: 'string' }, stall: { type: 'string' }, 'die-after': { type: 'string' } } });
const path = positionals[0];
if (!path) throw new Error('usage: stall-server SOCKET [--every MS] [--stall MS]');
const every = Number(values.every ?? 1000);
const stall = Number(values.stall ?? 300);
try {
  unlinkSync(path);
} catch {
  // not there
}

function answer(line: string): string | null {
  let msg: { id?: unknown; method?: unknown; params?: unknown; type?: unknown };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
  }
  if (msg.type === 'status') return JSON.stringify({ ok: true, state: 'WAKE' });
  const id = msg.id ?? null;
  if (msg.method === 'echo') return JSON.stringify({ jsonrpc: '2.0', id, result: msg.params ?? null });
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32601, message: `unknown method '${String(msg.method)}'` } });
}

const server = createServer((socket) => {
  socket.on('error', () => {});
  socket.pipe(split2()).on('data', (line: string) => {
    const m = /"method":"sleep"/.test(line) ? (JSON.parse(line) as { id?: unknown; params?: { ms?: number } }) : null;
    if (m) {
      setTimeout(() => socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: m.id ?? null, result: null })}\n`), Number(m.params?.ms ?? 0));
      return;
    }
    const out = answer(line);
    if (out !== null) socket.write(`${out}\n`);
  });
});
const stalls = setInterval(() => {
  const end = Date.now() + stall;
  while (Date.now() < end);
}, every);
server.listen(path, () => process.stdout.write('ready\n'));
if (values['die-after'] !== undefined) setTimeout(() => process.exit(70), Number(values['die-after']));
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    clearInterval(stalls);
    // Open client connections would keep close() waiting; the process is all there is to stop.
    server.close();
    process.exit(0);
  });
}
