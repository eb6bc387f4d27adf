/**
 * Property-based fuzzing of framing + router against the real server: random
 * bytes and random valid/invalid messages, split at random chunk boundaries
 * (multi-byte UTF-8 included). The daemon never crashes, each complete line
 * gets at most one response, and a valid request afterwards is answered.
 * Ids in every number form, with duplicate keys around them, come back byte
 * for byte.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Conn, roundTrip, sleep } from './helper.js';
import { sharedTeardown, startDaemon, type Running } from './daemons.js';

let d: Running;
const suite = sharedTeardown(after);
before(async () => {
  d = await startDaemon(suite, { threads: 2, maxLineBytes: 4096, maxBatchLength: 8, maxDepth: 8 });
});

const id = fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant('18446744073709551617'), fc.constant(null), fc.boolean());
const json = fc.jsonValue({ maxDepth: 3 });
const message = fc.oneof(
  fc.record({ jsonrpc: fc.constant('2.0'), id, method: fc.constantFrom('echo', 'nope', 'fail', 'type_error', 'missing'), params: fc.oneof(fc.constant(undefined), json) }).map((m) => JSON.stringify(m).replace('"18446744073709551617"', '18446744073709551617')),
  fc.record({ type: fc.constantFrom('status', 'pause', 'resume', 'force_wake', 'session_open', 'bogus'), ts: fc.oneof(fc.string(), fc.integer()) }).map((m) => JSON.stringify(m)),
  json.map((v) => JSON.stringify(v) ?? 'null'),
  fc.array(fc.record({ jsonrpc: fc.constant('2.0'), id: fc.integer(), method: fc.constant('echo') }), { maxLength: 4 }).map((b) => JSON.stringify(b)),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constant('x'.repeat(5000)),
  fc.integer({ min: 1, max: 20 }).map((n) => `{"jsonrpc":"2.0","id":1,"method":"echo","params":${'['.repeat(n)}${']'.repeat(n)}}`),
  fc.array(fc.constantFrom('{"type":"status"}', '{"type":"pause"}', '{"type":"resume"}', '1', '{}', '{"jsonrpc":"2.0","method":"echo"}', '{"jsonrpc":"2.0","id":-0,"method":"echo","a":1,"a":2}'), { maxLength: 10 }).map((b) => `[${b.join(',')}]`),
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

const digits = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
/** Any JSON number as text: sign, integer part, fraction, exponent in either case and sign. */
const numberText = fc
  .tuple(fc.boolean(), fc.oneof(fc.constant('0'), fc.tuple(fc.integer({ min: 1, max: 9 }), digits(0, 25)).map(([a, b]) => `${a}${b}`)), fc.option(digits(1, 12)), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 4))))
  .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`);
const idText = fc.oneof({ weight: 4, arbitrary: numberText }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)) });
// Where duplicate keys go: nowhere, in params, around the id itself.
const element = fc.tuple(idText, fc.constantFrom('none', 'params', 'id')).map(([id, dup]) => ({
  id,
  text:
    dup === 'none'
      ? `{"jsonrpc":"2.0","id":${id},"method":"echo"}`
      : dup === 'params'
        ? `{"jsonrpc":"2.0","id":${id},"method":"echo","params":{"k":1,"k":2}}`
        : `{"id":"first","jsonrpc":"2.0","method":"echo","id":${id}}`,
}));

test('ids in every number form come back byte for byte from the server, duplicate keys or not', async () => {
  const c = await Conn.open(d.socket);
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(element, { minLength: 1, maxLength: 8 }), fc.boolean(), async (els, asBatch) => {
        const before = c.lines.length;
        const ids = els.map((e) => e.id);
        c.send(asBatch ? `[${els.map((e) => e.text).join(',')}]\n` : els.map((e) => `${e.text}\n`).join(''));
        const got = (await c.waitLines(before + (asBatch ? 1 : els.length))).slice(before).join('\n');
        for (const id of ids) assert.ok(got.includes(`"id":${id},"result":`), `${id} not echoed verbatim in ${got}`);
      }),
      { numRuns: 100 },
    );
  } finally {
    c.close();
  }
});
