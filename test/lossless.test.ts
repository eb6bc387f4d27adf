/** The client's lossless JSON parser: same values as JSON.parse, except unsafe integers (bigint). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseJson, stringifyJson } from '../src/wire/lossless.js';

const asNumbers = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x));

test('integers outside the safe range are bigint, everything else as JSON.parse gives it', () => {
  assert.equal(parseJson('18446744073709551617'), 18446744073709551617n);
  assert.equal(parseJson('-9007199254740992'), -9007199254740992n);
  assert.equal(parseJson('9007199254740991'), 9007199254740991);
  assert.ok(Object.is(parseJson('-0'), -0));
  assert.equal(parseJson('1e400'), Infinity);
  assert.equal(parseJson('12345678901234567890.5'), 12345678901234567890.5);
  assert.deepEqual(parseJson(' {"a" : [1, "x\\n\\u00e9", true, false, null, {}], "a2": []} '), { a: [1, 'x\né', true, false, null, {}], a2: [] });
  const dup = parseJson('{"k":1,"k":2,"__proto__":{"p":1}}') as Record<string, unknown>;
  assert.equal(dup.k, 2, 'the last duplicate wins, as in JSON.parse');
  assert.ok(Object.hasOwn(dup, '__proto__'));
  assert.equal(Object.getPrototypeOf(dup), Object.prototype);
});

test('rejects what JSON.parse rejects, on both paths', () => {
  for (const bad of ['', ' ', '[1,]', '{"a":1,}', '[', '{"a"}', '{"a" 1}', '01', '1.', '-', '.5', '"\\x"', '"a', 'tru', 'nul', '[1]x', '{,}', '[,1]', '{"a":1 "b":2}', '"\u0001"', "{'a':1}", 'NaN']) {
    assert.throws(() => JSON.parse(bad), SyntaxError, `JSON.parse accepts ${JSON.stringify(bad)}`);
    assert.throws(() => parseJson(bad), SyntaxError, JSON.stringify(bad));
    assert.throws(() => parseJson(`[1234567890123456,${bad}]`), SyntaxError, `scanned: ${JSON.stringify(bad)}`);
  }
});

test('any depth, no recursion', () => {
  const depth = 100_000;
  let v = parseJson(`${'['.repeat(depth)}1234567890123456${']'.repeat(depth)}`);
  let n = 0;
  while (Array.isArray(v) && v.length > 0) {
    v = v[0];
    n++;
  }
  assert.equal(n, depth);
  assert.equal(v, 1234567890123456);
});

test('property: the same values as JSON.parse for any JSON text', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const text = JSON.stringify(value);
      assert.equal(asNumbers(parseJson(text)), JSON.stringify(JSON.parse(text)));
      // A safe 16-digit integer in front sends the text down the scanning path.
      const slow = `[1234567890123456,${text}]`;
      assert.equal(asNumbers(parseJson(slow)), JSON.stringify(JSON.parse(slow)));
    }),
    { numRuns: 500 },
  );
});

test('stringifyJson prints what parseJson read: bigints as their digits, strings that look alike untouched', () => {
  const text = '{"a":18446744073709551617,"b":[-9223372036854775808,1.5,"\\u0000bigint-x:5"],"c":"18446744073709551617"}';
  assert.equal(stringifyJson(parseJson(text)), text);
  assert.equal(stringifyJson(parseJson('{"a":[18446744073709551617]}'), 2), '{\n  "a": [\n    18446744073709551617\n  ]\n}');
  assert.equal(stringifyJson({ n: 1 }), '{"n":1}');
});

test('property: stringifyJson round-trips every integer, however long', () => {
  fc.assert(
    fc.property(fc.array(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n })), fc.string(), (ints, s) => {
      const text = JSON.stringify({ s, ints: ints.map(String) }).replace(/"(-?\d+)"/g, (m, d: string, at: number, all: string) => (all.indexOf('"ints"') < at ? d : m));
      assert.equal(stringifyJson(parseJson(text)), text);
    }),
    { numRuns: 300 },
  );
});
