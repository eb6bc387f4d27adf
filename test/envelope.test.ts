import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLine } from '../src/envelope.js';

// One row per malformed input: [line, expected kind, expected echoed id, message fragment].
const NEGATIVE: [string, string, string | null, string][] = [
  ['{bad', 'parse_error', null, ''],
  ['42', 'invalid', null, 'request must be a JSON object'],
  ['"str"', 'invalid', null, 'request must be a JSON object'],
  ['null', 'invalid', null, 'request must be a JSON object'],
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
];

for (const [line, kind, id, message] of NEGATIVE) {
  test(`negative: ${line}`, () => {
    const p = parseLine(line);
    assert.equal(p.kind, kind);
    if (p.kind === 'invalid') {
      assert.equal(p.id, id);
      assert.equal(p.message, message);
    }
  });
}

test('control messages need a control type and no jsonrpc key', () => {
  assert.equal(parseLine('{"type":"status"}').kind, 'control');
  assert.equal(parseLine('{"type":"pause","seconds":3}').kind, 'control');
});

test('ids keep their exact JSON text', () => {
  const ids = ['18446744073709551617', '-9223372036854775809', '1', '"abc"', '"ü😀"', '0.5', '1e400', '12345678901234567890123'];
  for (const id of ids) {
    const p = parseLine(`{"jsonrpc":"2.0","id":${id},"method":"m"}`);
    assert.equal(p.kind, 'request');
    if (p.kind === 'request') assert.equal(p.id, id === '"ü😀"' ? JSON.stringify('ü😀') : id);
  }
});

test('a big id inside a batch keeps its digits', () => {
  const p = parseLine('[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":18446744073709551617,"method":"b"}]');
  assert.equal(p.kind, 'batch');
  if (p.kind === 'batch') {
    assert.deepEqual(
      p.items.map((i) => (i.kind === 'request' ? i.id : null)),
      ['1', '18446744073709551617'],
    );
  }
});

test('params: omitted → {}, array kept as array', () => {
  const a = parseLine('{"jsonrpc":"2.0","id":1,"method":"m"}');
  const b = parseLine('{"jsonrpc":"2.0","id":1,"method":"m","params":[]}');
  assert.ok(a.kind === 'request' && b.kind === 'request');
  if (a.kind === 'request') assert.deepEqual(a.params, {});
  if (b.kind === 'request') assert.deepEqual(b.params, []);
});

test('no id key is a notification', () => {
  const p = parseLine('{"jsonrpc":"2.0","method":"m"}');
  assert.ok(p.kind === 'request' && p.id === null);
});
