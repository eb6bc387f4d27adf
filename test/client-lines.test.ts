/**
 * The client-side line reader every client shares (library, CLI, bench,
 * tests), without a socket: chunks in, lines out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Conn, join } from './helper.js';
import { tempDir } from './daemons.js';
import { LineReader } from '../src/client/lines.js';

/** The lines a reader hands over for `chunks`; `atEof` also ends the stream. */
function read(chunks: readonly Buffer[], atEof = true): string[] {
  const out: string[] = [];
  const r = new LineReader((line) => out.push(line));
  for (const c of chunks) r.write(c);
  if (atEof) r.end();
  return out;
}

/** `bytes` cut into pieces of `size`. */
function pieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

test('a long line in small chunks arrives whole, once', () => {
  // Longer than the server's default line limit (1 MiB): a reply is as long as the server made it.
  const body = `{"jsonrpc":"2.0","id":7,"result":"${'é'.repeat(1_500_000)}"}`;
  const got = read(pieces(Buffer.from(`${body}\n{"id":8}\n`), 1000));
  assert.equal(got.length, 2);
  assert.equal(got[0], body);
  assert.equal(got[1], '{"id":8}');
});

test('a line split across chunks, a byte at a time and inside a UTF-8 character, is one line', () => {
  const bytes = Buffer.from('{"a":"né €𝄞"}\n{"b":2}\n');
  assert.deepEqual(read(pieces(bytes, 1)), ['{"a":"né €𝄞"}', '{"b":2}']);
  assert.deepEqual(read([bytes.subarray(0, 9), bytes.subarray(9, 20), bytes.subarray(20)]), ['{"a":"né €𝄞"}', '{"b":2}']);
});

test('CRLF ends a line as LF does, even with the CR and LF in different chunks', () => {
  assert.deepEqual(read([Buffer.from('{"a":1}\r\n{"b":2}\r'), Buffer.from('\n')]), ['{"a":1}', '{"b":2}']);
});

test('a last line without newline is handed over at end(), and only then', () => {
  assert.deepEqual(read([Buffer.from('{"a":1}\n{"b":')], false), ['{"a":1}']);
  assert.deepEqual(read([Buffer.from('{"a":1}\n{"b":'), Buffer.from('2}')]), ['{"a":1}', '{"b":2}']);
});

test('blank lines, and lines that are not UTF-8, are skipped', () => {
  const bad = Buffer.from([0x7b, 0xff, 0x7d, 0x0a]);
  assert.deepEqual(read([Buffer.from('\n \r\n{"a":1}\n'), bad, Buffer.from('{"b":2}\n')]), ['{"a":1}', '{"b":2}']);
});

test("the tests' own connection (helper.ts Conn) flags a CR, a blank line or a BOM that the shared reader forgives", async (t) => {
  for (const [reply, odd] of [
    ['{"a":1}\r\n', 'a CR'],
    ['{"a":1}\n\n', 'a blank line'],
    ['\ufeff{"a":1}\n', 'a BOM'],
  ] as const) {
    const path = join(tempDir(t), 's.sock');
    const server = createServer((s) => s.end(reply));
    await new Promise<void>((r) => server.listen(path, r));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    const c = await Conn.open(path);
    await new Promise((r) => c.socket.once('close', r));
    assert.ok(c.lines.includes(`NOT NDJSON: the server sent ${odd}`), `${JSON.stringify(reply)}: ${JSON.stringify(c.lines)}`);
  }
});
