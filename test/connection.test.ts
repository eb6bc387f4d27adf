/**
 * A connection's output: replies written in one go (a batch's results arrive
 * together) leave in one write, and nothing waits past the tick for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { Connection } from '../src/server/connection.js';
import type { Frame } from '../src/wire/framing.js';
import type { CallContext, Router } from '../src/server/router.js';
import { silent } from './helper.js';

/** Counts the writes that reach the "socket": each `_write` or `_writev` is one syscall on a real one. */
class CountingSink extends Writable {
  readonly writes: string[][] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.writes.push([chunk.toString()]);
    cb();
  }
  override _writev(chunks: { chunk: Buffer }[], cb: () => void): void {
    this.writes.push(chunks.map((c) => c.chunk.toString()));
    cb();
  }
}

/** A router whose every line is answered by `answer` (as the pool answers a batch: several replies in one go). */
function routerOf(answer: (ctx: CallContext, text: string) => void): Router {
  return { route: (frame: Frame, ctx: CallContext) => answer(ctx, frame.kind === 'line' ? frame.text : '') } as unknown as Router;
}

const limits = { maxInFlight: 1000, maxLineBytes: 1 << 20, maxWriteBuffer: 1 << 20, slowReaderTimeoutMs: 30_000 };

test('replies written in the same tick leave in one write, in order', async () => {
  const input = new PassThrough();
  const output = new CountingSink();
  const held: CallContext[] = [];
  new Connection({ input, output, router: routerOf((ctx) => held.push(ctx)), limits, log: silent, onClose: () => {}, endOutput: true });
  input.write('a\nb\nc\nd\n');
  await new Promise((r) => setImmediate(r));
  assert.equal(held.length, 4);
  // A batch's results: every reply in one synchronous run.
  held.forEach((ctx, i) => ctx.reply(`r${i}`));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(output.writes, [['r0\n', 'r1\n', 'r2\n', 'r3\n']]);
  // A reply on its own later still goes out at once, alone.
  input.write('e\n');
  await new Promise((r) => setImmediate(r));
  (held[4] as CallContext).reply('r4');
  await new Promise((r) => process.nextTick(r));
  assert.deepEqual(output.writes.at(-1), ['r4\n']);
  input.end();
});
