import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineFramer, type Frame } from '../src/wire/framing.js';

function frame(chunks: Buffer[], max = 1024): Promise<Frame[]> {
  return new Promise((resolve) => {
    const out: Frame[] = [];
    const f = new LineFramer(max, (fr) => out.push(fr), () => resolve(out));
    for (const c of chunks) f.write(c);
    f.end();
  });
}

const lines = (frames: Frame[]): string[] => frames.map((f) => (f.kind === 'line' ? f.text : `<${f.kind}>`));

test('splits on LF and CRLF; a last line without newline counts', async () => {
  assert.deepEqual(lines(await frame([Buffer.from('a\r\nb\nc')])), ['a', 'b', 'c']);
});

test('blank and whitespace-only lines are dropped', async () => {
  assert.deepEqual(lines(await frame([Buffer.from('\n  \n\t\r\nx\n \n')])), ['x']);
});

test('a UTF-8 byte order mark starting a line is dropped (the original decodes lines as utf-8-sig); elsewhere it is kept', async () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  const got = await frame([Buffer.concat([bom, Buffer.from('{"a":1}\n'), bom, Buffer.from('\n'), bom, Buffer.from('x'), bom, Buffer.from('\n')])]);
  assert.deepEqual(lines(got), ['{"a":1}', 'x\ufeff']);
  // Split across chunks, it is still recognised.
  assert.deepEqual(lines(await frame([bom.subarray(0, 1), Buffer.concat([bom.subarray(1), Buffer.from('[]')])])), ['[]']);
});

test('a multi-byte character split across chunks survives', async () => {
  const bytes = Buffer.from('{"s":"é😀漢"}\n');
  for (let cut = 1; cut < bytes.length; cut++) {
    const got = lines(await frame([bytes.subarray(0, cut), bytes.subarray(cut)]));
    assert.deepEqual(got, ['{"s":"é😀漢"}'], `cut at ${cut}`);
  }
});

test('any chunking of valid input gives the same lines', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme', maxLength: 20 }), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }), async (ls, sizes) => {
      const clean = ls.map((l) => l.replace(/[\r\n]/g, '')).filter((l) => !/^[ \t]*$/.test(l));
      const bytes = Buffer.from(clean.map((l) => `${l}\n`).join(''));
      const chunks: Buffer[] = [];
      for (let i = 0, k = 0; i < bytes.length; k++) {
        const n = sizes[k % sizes.length] as number;
        chunks.push(bytes.subarray(i, i + n));
        i += n;
      }
      assert.deepEqual(lines(await frame(chunks)), clean);
    }),
    { numRuns: 200 },
  );
});

test('an over-long complete line is one too_long frame, and the next line is fine', async () => {
  assert.deepEqual(lines(await frame([Buffer.from(`${'x'.repeat(100)}\nok\n`)], 64)), ['<too_long>', 'ok']);
});

test('an over-long line arriving in pieces is reported once, then skipped through its newline', async () => {
  const chunks = [Buffer.from('y'.repeat(50)), Buffer.from('y'.repeat(50)), Buffer.from('y'.repeat(50)), Buffer.from('yy\nnext\n')];
  assert.deepEqual(lines(await frame(chunks, 64)), ['<too_long>', 'next']);
});

test('an over-long unterminated line at EOF is reported once', async () => {
  assert.deepEqual(lines(await frame([Buffer.from('z'.repeat(100)), Buffer.from('z'.repeat(100))], 64)), ['<too_long>']);
});

test('the limit counts bytes, not characters', async () => {
  assert.deepEqual(lines(await frame([Buffer.from(`${'é'.repeat(40)}\n`)], 64)), ['<too_long>']);
  assert.deepEqual(lines(await frame([Buffer.from(`${'é'.repeat(30)}\n`)], 64)), ['é'.repeat(30)]);
});

test('invalid UTF-8 makes that line (only) an invalid_utf8 frame', async () => {
  const bad = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\nnext\n')]);
  assert.deepEqual(lines(await frame([bad])), ['<invalid_utf8>', 'next']);
  // The bad bytes in a later chunk than the start of the line.
  assert.deepEqual(lines(await frame([Buffer.from('ok\n{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\nafter\n')])), ['ok', '<invalid_utf8>', 'after']);
  // A truncated multi-byte character at EOF.
  assert.deepEqual(lines(await frame([Buffer.from('x\n'), Buffer.from([0xe6, 0xbc])])), ['x', '<invalid_utf8>']);
});

test('a character split across chunks is whole; an unfinished one at EOF is invalid', async () => {
  assert.deepEqual(lines(await frame([Buffer.from([0x61, 0xe6]), Buffer.from([0xbc, 0xa2, 0x0a])])), ['a漢']);
  assert.deepEqual(lines(await frame([Buffer.from([0xf0, 0x9f]), Buffer.from([0x98])])), ['<invalid_utf8>']);
});

test('bytes that can never start a sequence are invalid, not incomplete', async () => {
  assert.deepEqual(lines(await frame([Buffer.from([0x61, 0xff, 0x0a])])), ['<invalid_utf8>']);
  assert.deepEqual(lines(await frame([Buffer.from([0x61, 0xf8, 0x80, 0x0a])])), ['<invalid_utf8>']);
  assert.deepEqual(lines(await frame([Buffer.from('{"a":'), Buffer.from([0xff]), Buffer.from([0xff, 0x0a]), Buffer.from('ok\n')])), ['<invalid_utf8>', 'ok']);
});

test('random bytes in random chunks: one frame per newline at most, and the framer survives', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 10 }), async (bytes, sizes) => {
      const chunks: Buffer[] = [];
      for (let i = 0, k = 0; i < bytes.length; k++) {
        const n = sizes[k % sizes.length] as number;
        chunks.push(Buffer.from(bytes.subarray(i, i + n)));
        i += n;
      }
      chunks.push(Buffer.from('\nsentinel\n'));
      const got = lines(await frame(chunks, 64));
      assert.equal(got[got.length - 1], 'sentinel');
      assert.ok(got.length <= bytes.filter((b) => b === 0x0a).length + 2);
    }),
    { numRuns: 500 },
  );
});

test('a line at the limit passes, with or without CR; one byte more is too long', async () => {
  const at = 'a'.repeat(64);
  assert.deepEqual(lines(await frame([Buffer.from(`${at}\r\n${at}\n${at}b\n${at}`)], 64)), [at, at, '<too_long>', at]);
  // Arriving a byte at a time.
  const bytes = Buffer.from(`${at}\r\n${at}b\r\nok\n`);
  assert.deepEqual(lines(await frame([...bytes].map((b) => Buffer.from([b])), 64)), [at, '<too_long>', 'ok']);
});

test('a 1 MiB line in 1 KiB chunks costs linear time (not a re-split per chunk)', async () => {
  const line = Buffer.from(`[${'0,'.repeat(512 * 1024 - 2)}0]\n`);
  const chunks: Buffer[] = [];
  for (let i = 0; i < line.length; i += 1024) chunks.push(line.subarray(i, i + 1024));
  const t0 = performance.now();
  const got = await frame(chunks, 2 * 1024 * 1024);
  const chunked = performance.now() - t0;
  const t1 = performance.now();
  await frame([line], 2 * 1024 * 1024);
  const whole = performance.now() - t1;
  assert.equal(got.length, 1);
  assert.equal(got[0]?.kind === 'line' ? got[0].text.length : 0, line.length - 1);
  // Generous: 1024 chunks may cost some per-chunk overhead, never a re-scan of the line each time.
  assert.ok(chunked < whole * 20 + 200, `chunked ${chunked} ms vs whole ${whole} ms`);
});

test('frames found while paused wait for resume, in order, and the end comes after them', async () => {
  const got: string[] = [];
  let ended = false;
  const f = new LineFramer(1024, (fr) => {
    got.push(fr.kind === 'line' ? fr.text : fr.kind);
    if (got.length === 1) f.pause();
  }, () => (ended = true));
  f.write(Buffer.from('a\nb\nc\n'));
  f.end();
  assert.deepEqual(got, ['a']);
  assert.equal(ended, false);
  f.resume();
  assert.deepEqual(got, ['a'], 'delivery resumes on a later turn, not inside resume()');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, ['a', 'b', 'c']);
  assert.equal(ended, true);
});

test('a line sent a byte at a time, then another reusing the buffer, come out whole', async () => {
  const first = `{"a":"${'é'.repeat(3000)}"}`;
  const second = '{"b":1}';
  const bytes = Buffer.from(`${first}\r\n${second}\n`);
  const got = lines(await frame([...bytes].map((b) => Buffer.from([b])), 64 * 1024));
  assert.deepEqual(got, [first, second]);
});

test('a too_long frame carries the line up to the limit as text, whatever the chunks, cut back to whole characters', async () => {
  const line = `{"id":7,"x":"${'é'.repeat(100)}"}`;
  const bytes = Buffer.from(`${line}\n`);
  for (const size of [1, 3, 7, 64, bytes.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    const [f] = await frame(chunks, 64);
    assert.ok(f?.kind === 'too_long', `chunks of ${size}`);
    // 64 bytes: 13 of ASCII, then 25 whole 'é' (2 bytes each), the 26th cut in two and dropped.
    assert.equal(f.head, line.slice(0, 13 + 25), `chunks of ${size}`);
  }
  // Not UTF-8 before the cut: no head.
  const [g] = await frame([Buffer.concat([Buffer.from('{"id":1,"x":"'), Buffer.from([0xff]), Buffer.from('x'.repeat(100))])], 64);
  assert.ok(g?.kind === 'too_long' && g.head === null);
});
