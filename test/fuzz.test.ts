/**
 * Property-based fuzzing of framing + router against the real server: random
 * bytes and random valid/invalid messages, split at random chunk boundaries
 * (multi-byte UTF-8 included). The daemon never crashes, each complete line
 * gets at most one response, and a valid request afterwards is answered.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Conn, roundTrip, startDaemon, sleep, type Running } from './helper.js';

let d: Running;
before(async () => {
  d = await startDaemon({ threads: 2, maxLineBytes: 4096 });
});
after(() => d.close());

const id = fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant('18446744073709551617'), fc.constant(null), fc.boolean());
const json = fc.jsonValue({ maxDepth: 3 });
const message = fc.oneof(
  fc.record({ jsonrpc: fc.constant('2.0'), id, method: fc.constantFrom('echo', 'nope', 'fail', 'type_error', 'missing'), params: fc.oneof(fc.constant(undefined), json) }).map((m) => JSON.stringify(m).replace('"18446744073709551617"', '18446744073709551617')),
  fc.record({ type: fc.constantFrom('status', 'pause', 'resume', 'force_wake', 'session_open', 'bogus'), ts: fc.oneof(fc.string(), fc.integer()) }).map((m) => JSON.stringify(m)),
  json.map((v) => JSON.stringify(v) ?? 'null'),
  fc.array(fc.record({ jsonrpc: fc.constant('2.0'), id: fc.integer(), method: fc.constant('echo') }), { maxLength: 4 }).map((b) => JSON.stringify(b)),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constant('x'.repeat(5000)),
);
const line = fc.oneof(
  { weight: 4, arbitrary: message.map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)) },
);

test('random input never crashes the daemon; at most one response per line; the connection keeps working', async () => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }), async (lines, cuts) => {
      runs++;
      const payload = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
      const newlines = payload.filter((b) => b === 0x0a).length;
      const c = await Conn.open(d.socket);
      try {
        for (let i = 0, k = 0; i < payload.length; k++) {
          const n = cuts[k % cuts.length] as number;
          c.send(payload.subarray(i, i + n));
          i += n;
          await new Promise((r) => setImmediate(r));
        }
        c.send('{"jsonrpc":"2.0","id":"sentinel","method":"echo","params":["ok"]}\n');
        const t0 = Date.now();
        while (!c.lines.some((l) => l === '{"jsonrpc":"2.0","id":"sentinel","result":["ok"]}')) {
          assert.ok(Date.now() - t0 < 5000, `sentinel not answered; got ${c.lines.length} lines`);
          await sleep(5);
        }
        await sleep(20);
        assert.ok(c.lines.length <= newlines + 1, `${c.lines.length} responses for ${newlines} lines + sentinel`);
        for (const l of c.lines) JSON.parse(l); // every response is one well-formed JSON line
      } finally {
        c.close();
      }
    }),
    { numRuns: 150 },
  );
  assert.equal(runs, 150);
  assert.equal((await roundTrip(d.socket, { type: 'status' })).ok, true);
});
