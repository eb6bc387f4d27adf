import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseLine, type EnvelopeLimits, type Parsed } from '../src/wire/envelope.js';

const LIMITS: EnvelopeLimits = { maxBatchLength: 3, maxDepth: 4, maxMethodBytes: 8 };
const parse = (line: string, limits = LIMITS): Parsed => parseLine(line, limits);

// One row per malformed input: [line, expected kind, expected echoed id, message fragment].
const NEGATIVE: [string, string, string | null, string][] = [
  // Not JSON (-32700): everything JSON.parse refuses.
  ['{bad', 'parse_error', null, 'position 1'],
  ['', 'parse_error', null, 'end of JSON input'],
  ['[1,]', 'parse_error', null, ''],
  ['{"a":1,}', 'parse_error', null, ''],
  ['{"a" 1}', 'parse_error', null, ''],
  ['{"a":1 "b":2}', 'parse_error', null, ''],
  ['{1:2}', 'parse_error', null, ''],
  ['01', 'parse_error', null, 'after JSON'],
  ['1.', 'parse_error', null, 'end of JSON input'],
  ['1.e5', 'parse_error', null, 'fractional'],
  ['.5', 'parse_error', null, ''],
  ['-', 'parse_error', null, 'end of JSON input'],
  ['-a', 'parse_error', null, 'minus'],
  ['+1', 'parse_error', null, ''],
  ['1e', 'parse_error', null, 'end of JSON input'],
  ['1e+x', 'parse_error', null, 'Exponent'],
  ['NaN', 'parse_error', null, ''],
  ['Infinity', 'parse_error', null, ''],
  ['tru', 'parse_error', null, ''],
  ["'x'", 'parse_error', null, ''],
  ['"\\x"', 'parse_error', null, 'escaped'],
  ['"\\u12G4"', 'parse_error', null, 'escaped'],
  ['"a\tb"', 'parse_error', null, 'control character'],
  ['"open', 'parse_error', null, 'end of JSON input'],
  ['{"a":1} x', 'parse_error', null, 'after JSON'],
  ['\ufeff{}', 'parse_error', null, ''],
  ['[1 2]', 'parse_error', null, ''],
  ['{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":[1,}]}}', 'parse_error', null, ''],
  // Not a request (-32600), id null.
  ['42', 'invalid', null, 'request must be a JSON object'],
  ['"str"', 'invalid', null, 'request must be a JSON object'],
  ['null', 'invalid', null, 'request must be a JSON object'],
  ['[]', 'invalid', null, 'empty batch'],
  ['[{},{},{},{}]', 'invalid', null, 'batch too large'],
  ['[0,0,0,0,0,0,0,0,0,0]', 'invalid', null, 'batch too large'],
  ['{"x":[[[[1]]]]}', 'invalid', null, 'nesting deeper than 4'],
  ['{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":{"b":{"c":{}}}}}', 'invalid', '1', 'nesting deeper than 4'],
  ['{"jsonrpc":"2.0","method":"m","params":{"a":{"b":{"c":{}}}},"id":"after"}', 'invalid', '"after"', 'nesting deeper than 4'],
  // Bad envelope (-32600), id echoed when usable.
  ['{"id":1,"method":"m"}', 'invalid', '1', "jsonrpc must be '2.0'"],
  ['{"jsonrpc":"1.0","id":1,"method":"m"}', 'invalid', '1', "jsonrpc must be '2.0'"],
  ['{"jsonrpc":2.0,"id":"a","method":"m"}', 'invalid', '"a"', "jsonrpc must be '2.0'"],
  ['{"jsonrpc":"2.0","id":null,"method":"m"}', 'invalid', null, 'id required and non-null'],
  ['{"jsonrpc":"2.0","id":{"a":1},"method":"m"}', 'invalid', null, 'id must be a string or a number'],
  ['{"jsonrpc":"2.0","id":[1],"method":"m"}', 'invalid', null, 'id must be a string or a number'],
  ['{"jsonrpc":"2.0","id":true,"method":"m"}', 'invalid', null, 'id must be a string or a number'],
  ['{"jsonrpc":"2.0","id":7}', 'invalid', '7', 'method must be a string'],
  ['{"jsonrpc":"2.0","id":7,"method":5}', 'invalid', '7', 'method must be a string'],
  ['{"jsonrpc":"2.0","id":7,"method":"m","params":5}', 'invalid', '7', 'params must be object or array'],
  ['{"jsonrpc":"2.0","id":7,"method":"m","params":"x"}', 'invalid', '7', 'params must be object or array'],
  ['{"jsonrpc":"2.0","id":7,"method":"m","params":null}', 'invalid', '7', 'params must be object or array'],
  ['{"type":"status","jsonrpc":"2.0","id":3}', 'invalid', '3', 'method must be a string'],
  ['{"type":"bogus"}', 'invalid', null, "jsonrpc must be '2.0'"],
  ['{"jsonrpc":"2.0","id":1e400,"method":"123456789"}', 'invalid', '1e400', 'method name longer than 8 bytes'],
  ['{"jsonrpc":"2.0","id":"x","method":"éééé\u00e9"}', 'invalid', '"x"', 'method name longer than 8 bytes'],
  ['{"jsonrpc":"2.0","id":2,"method":"\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041"}', 'invalid', '2', 'method name longer than 8 bytes'],
  // Duplicate keys: the last occurrence wins, as in JSON.parse.
  ['{"jsonrpc":"2.0","id":1,"method":"m","method":5}', 'invalid', '1', 'method must be a string'],
  ['{"jsonrpc":"2.0","id":1,"id":null,"method":"m"}', 'invalid', null, 'id required and non-null'],
  ['{"jsonrpc":"2.0","jsonrpc":"1.0","id":-0,"method":"m"}', 'invalid', '-0', "jsonrpc must be '2.0'"],
  ['{"jsonrpc":"2.0","id":1,"method":"m","params":{},"params":3}', 'invalid', '1', 'params must be object or array'],
  // Keys written with escapes are the same keys.
  ['{"jsonrpc":"2.0","\\u0069d":7,"method":5}', 'invalid', '7', 'method must be a string'],
  ['{"jsonrpc":"2.0","id":7,"\\u006dethod":5}', 'invalid', '7', 'method must be a string'],
];

for (const [line, kind, id, message] of NEGATIVE) {
  test(`negative: ${line.slice(0, 80)}`, () => {
    const p = parse(line);
    assert.equal(p.kind, kind);
    if (p.kind === 'invalid') {
      assert.equal(p.id, id);
      assert.ok(p.error.message.includes(message), `${p.error.message} lacks ${message}`);
      assert.equal(p.error.code, -32600);
      assert.ok(p.error.data !== null && typeof p.error.data === 'object', 'every refusal carries data');
    }
    if (p.kind === 'parse_error') {
      assert.ok(p.error.message.includes(message), `${p.error.message} lacks ${message}`);
      assert.deepEqual(p.error.data, { syntax: 'json' });
      assert.throws(() => JSON.parse(line), 'JSON.parse must refuse it too');
    }
  });
}

test('a batch element that is wrong is answered on its own, with its id', () => {
  const p = parse('[1,{"jsonrpc":"2.0","id":"k","method":5},{"jsonrpc":"2.0","id":2,"method":"m"}]');
  assert.equal(p.kind, 'batch');
  if (p.kind !== 'batch') return;
  assert.deepEqual(
    p.items.map((i) => [i.kind, i.kind === 'control' ? null : i.id]),
    [
      ['invalid', null],
      ['invalid', '"k"'],
      ['request', '2'],
    ],
  );
});

test('control messages need a control type and no jsonrpc key; the last type wins', () => {
  assert.equal(parse('{"type":"status"}').kind, 'control');
  assert.equal(parse('{"type":"pause","seconds":3}').kind, 'control');
  assert.equal(parse('{"type":"st\\u0061tus"}').kind, 'control');
  assert.equal(parse('{"type":"bogus","type":"status"}').kind, 'control');
  assert.equal(parse('{"type":"status","type":"bogus"}').kind, 'invalid');
  const p = parse('{"type":"session_open","session_id":"__proto__","session_id":"s2"}');
  assert.ok(p.kind === 'control');
  if (p.kind === 'control') assert.equal(p.msg.session_id, 's2');
});

test('a control message is built from the fields the plane reads, never from the whole object', () => {
  // 1 MiB of distinct keys: parsing the whole object held the main thread 100+ ms.
  const junk = Array.from({ length: 90_000 }, (_, i) => `"${i.toString(36)}":0`).join(',');
  const big = { maxBatchLength: 1000, maxDepth: 64, maxMethodBytes: 256 };
  const p = parseLine(`{"type":"session_open",${junk},"s\u0065ssion_id":"a\u00e9","ts":{"deep":[${junk.replace(/:0/g, '')}]},"reason":null,"seconds":-0,"x":1}`, big);
  assert.ok(p.kind === 'control');
  if (p.kind !== 'control') return;
  // Only the five names; a container's contents are never read (the plane refuses its type).
  assert.deepEqual(Object.keys(p.msg).sort(), ['reason', 'seconds', 'session_id', 'ts', 'type']);
  assert.deepEqual(p.msg, { type: 'session_open', session_id: 'a\u00e9', ts: {}, reason: null, seconds: -0 });
  assert.ok(Object.is(p.msg.seconds, -0));
  const q = parseLine('{"type":"pause","ts":[1,2],"seconds":1e2}', big);
  assert.ok(q.kind === 'control' && Array.isArray(q.msg.ts) && q.msg.seconds === 100 && q.floatSeconds);
  // A field nested deeper is not the message's own.
  const r = parseLine('{"type":"pause","x":{"seconds":true}}', big);
  assert.ok(r.kind === 'control' && !Object.hasOwn(r.msg, 'seconds'));
});

// Every number form, and strings as sent (escapes kept).
export const ID_FORMS = [
  '18446744073709551617',
  '-9223372036854775809',
  '12345678901234567890123',
  '-0',
  '0',
  '1.0',
  '1E2',
  '1e+2',
  '1E-2',
  '1e-400',
  '1e400',
  '0.5',
  '1e3',
  '-1.50e-07',
  '5',
  '"abc"',
  '"ü😀"',
  '"\\u0041\\n\\ud800"',
  '""',
];

// Where a duplicate key sits: none, in params, of the id itself, in another batch element.
const DUPLICATES: [string, (id: string) => string, number][] = [
  ['none', (id) => `{"jsonrpc":"2.0","id":${id},"method":"m"}`, -1],
  ['in params', (id) => `{"jsonrpc":"2.0","id":${id},"method":"m","params":{"a":1,"a":2}}`, -1],
  ['of the id', (id) => `{"jsonrpc":"2.0","id":"first","method":"m","id":${id}}`, -1],
  ['in a batch mate', (id) => `[{"jsonrpc":"2.0","id":1,"method":"m","x":1,"x":2},{"jsonrpc":"2.0","id":${id},"method":"m"}]`, 1],
  ['many in a batch', (id) => `[${Array.from({ length: 3 }, () => `{"jsonrpc":"2.0","id":${id},"method":"m","params":[{"k":0,"k":1}],"id":${id}}`).join(',')}]`, 2],
];

for (const [where, make, index] of DUPLICATES) {
  test(`ids come back byte for byte; duplicate keys ${where}`, () => {
    for (const id of ID_FORMS) {
      const p = parse(make(id));
      const item = index < 0 ? p : p.kind === 'batch' ? p.items[index] : undefined;
      assert.ok(item !== undefined && item.kind === 'request', `${id}: ${JSON.stringify(p)}`);
      if (item.kind === 'request') assert.equal(item.id, id);
    }
  });
}

test('params: the exact JSON text; omitted → {}; an array stays an array', () => {
  const a = parse('{"jsonrpc":"2.0","id":1,"method":"m"}');
  const b = parse('{"jsonrpc":"2.0","id":1,"method":"m","params":[]}');
  const c = parse('{"jsonrpc":"2.0","id":1,"method":"m","params" : { "n" : 1e-400 , "s":"\\u00e9" } }');
  assert.ok(a.kind === 'request' && b.kind === 'request' && c.kind === 'request');
  if (a.kind === 'request') assert.equal(a.params, '{}');
  if (b.kind === 'request') assert.equal(b.params, '[]');
  if (c.kind === 'request') assert.equal(c.params, '{ "n" : 1e-400 , "s":"\\u00e9" }');
});

test('no id key is a notification', () => {
  const p = parse('{"jsonrpc":"2.0","method":"m"}');
  assert.ok(p.kind === 'request' && p.id === null);
});

test('a method name exactly at the limit is accepted (bytes, not characters)', () => {
  const p = parse('{"jsonrpc":"2.0","id":1,"method":"éééé"}'); // 8 bytes
  assert.ok(p.kind === 'request' && p.method === 'éééé');
});

test('exactly maxBatchLength elements and exactly maxDepth levels are accepted', () => {
  assert.equal(parse('[1,2,3]').kind, 'batch');
  // A batch of one non-object, four levels deep counted from the element: not too deep, but not a request.
  const p = parse('[[[[[1]]]]]');
  assert.ok(p.kind === 'batch' && p.items[0]?.kind === 'invalid');
  assert.deepEqual(p.items[0].error.data, { invalid: 'request' });
  // One level more: that element alone is too deep.
  const q = parse('[[[[[[1]]]]],{"jsonrpc":"2.0","id":2,"method":"m"}]');
  assert.ok(q.kind === 'batch' && q.items[0]?.kind === 'invalid' && q.items[1]?.kind === 'request');
  assert.deepEqual(q.items[0].error.data, { bound: 'max_depth', limit: 4 });
  assert.equal(parse('{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":{"b":{}}}}').kind, 'request');
});

test('a batch past the bound is refused there: the rest of the line is not read', () => {
  const p = parse('[1,2,3,4,5,}');
  assert.ok(p.kind === 'invalid' && p.id === null);
  assert.deepEqual(p.error.data, { bound: 'max_batch_length', limit: 3 });
  // Within the bound, a syntax error is a syntax error.
  assert.equal(parse('[1,2,}').kind, 'parse_error');
});

test('a parse error for a 1 MiB line has a short message', () => {
  const big = `[${'1,'.repeat(512 * 1024)}x]`;
  const p = parse(big, { maxBatchLength: 1_000_000, maxDepth: 64, maxMethodBytes: 256 });
  assert.equal(p.kind, 'parse_error');
  if (p.kind === 'parse_error') assert.ok(p.error.message.length < 100, p.error.message);
  const str = `"${'a'.repeat(1024 * 1024)}`;
  const q = parse(str);
  assert.ok(q.kind === 'parse_error' && q.error.message.length < 100);
  // A lone surrogate or control character is shown escaped, never raw.
  const r = parse('\u0001');
  assert.ok(r.kind === 'parse_error' && r.error.message.includes('\\u0001'), r.kind === 'parse_error' ? r.error.message : '');
});

test('deep nesting is refused with the id, wherever the id stands; the rest of the line is still checked', () => {
  const limits = { maxBatchLength: 1000, maxDepth: 64, maxMethodBytes: 256 };
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  // A deep top-level array is a batch of one element that is too deep: answered alone, id null.
  const p = parse(deep, limits);
  assert.ok(p.kind === 'batch' && p.items.length === 1 && p.items[0]?.kind === 'invalid' && p.items[0].id === null);
  assert.deepEqual(p.items[0].error.data, { bound: 'max_depth', limit: 64 });
  const nest = `${'['.repeat(1000)}${']'.repeat(1000)}`;
  for (const line of [
    `{"jsonrpc":"2.0","id":18446744073709551617,"method":"m","params":${nest}}`,
    `{"jsonrpc":"2.0","method":"m","params":${nest},"id":18446744073709551617}`,
  ]) {
    const q = parse(line, limits);
    assert.ok(q.kind === 'invalid' && q.id === '18446744073709551617', line.slice(0, 60));
    assert.deepEqual(q.error.data, { bound: 'max_depth', limit: 64 });
  }
  // Unbalanced past the limit: the line is not JSON, and that is what it is told.
  assert.equal(parse(`{"a":${'['.repeat(10)}`).kind, 'parse_error');
});

test('a method name or id kept after the line is gone does not keep the line alive', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const kept: (string | null)[] = [];
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 40; i++) {
    const line = `{"jsonrpc":"2.0","id":"a-fairly-long-request-id-${i}","method":"a_long_method_name_${i}","params":["${'x'.repeat(1_000_000)}"]}`;
    const p = parseLine(line, { maxBatchLength: 10, maxDepth: 8, maxMethodBytes: 256 });
    assert.ok(p.kind === 'request');
    if (p.kind === 'request') kept.push(p.method, p.id);
  }
  gc();
  const grew = (process.memoryUsage().heapUsed - before) / 1048576;
  assert.ok(grew < 20, `40 lines of 1 MB: ${grew.toFixed(1)} MiB still held by ${kept.length} short strings`);
});
