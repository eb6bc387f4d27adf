/**
 * The line scanner against JSON.parse, property-based: it accepts exactly
 * what JSON.parse accepts, its routing members are JSON.parse's (last
 * duplicate wins, escaped keys included), ids keep their text in every
 * number form, depth and batch bounds hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { headId, scanLine, type Element, type RoutingKey, type Span } from '../src/wire/jsonscan.js';
import { parseLine } from '../src/wire/envelope.js';

const OPEN = { maxDepth: 1_000_000, maxBatchLength: 1_000_000 };
const KEYS: readonly RoutingKey[] = ['jsonrpc', 'id', 'method', 'type', 'params'];

function accepts(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

// Pieces that make near-JSON: every token, every way to get one wrong.
const piece = fc.constantFrom(
  '{', '}', '[', ']', ',', ':', ' ', '\t', '\n', '\r', '"', '\\', '"a"', '"id"', '"\\u0069d"', '"\\u00"', '"\\x"', '"\\/"',
  '0', '1', '-', '+', '.', 'e', 'E', '01', '-0', '1.5', '2e-3', 'true', 'false', 'null', 'tru', 'nul', 'x', '\u0001', '\u00e9', '\ud800', '\ufeff', '\u2028',
);
const soup = fc.array(piece, { maxLength: 24 }).map((p) => p.join(''));
// Valid JSON, then one character inserted, deleted or replaced.
const mutated = fc
  .tuple(fc.json({ maxDepth: 4 }), fc.nat(), fc.constantFrom('insert', 'delete', 'replace', 'none'), piece)
  .map(([j, at, how, p]) => {
    const i = j.length === 0 ? 0 : at % j.length;
    if (how === 'insert') return j.slice(0, i) + p + j.slice(i);
    if (how === 'delete') return j.slice(0, i) + j.slice(i + 1);
    if (how === 'replace') return j.slice(0, i) + p + j.slice(i + 1);
    return j;
  });

test('accepts exactly what JSON.parse accepts', () => {
  fc.assert(
    fc.property(fc.oneof(soup, mutated, fc.json({ maxDepth: 6 }), fc.string()), (s) => {
      const scanned = scanLine(s, OPEN);
      assert.equal(scanned.kind !== 'syntax_error', accepts(s), `${JSON.stringify(s)} → ${JSON.stringify(scanned)}`);
      if (scanned.kind === 'syntax_error') assert.ok(scanned.message.length < 100);
    }),
    { numRuns: 3000 },
  );
});

// Objects with routing keys repeated, some written with escapes, values any JSON.
const keyText = fc.constantFrom('jsonrpc', 'id', 'method', 'type', 'params', '\\u0069d', 'm\\u0065thod', '\\u0074ype', 'x', 'ids', '__proto__');
const objectText = fc
  .array(fc.tuple(keyText, fc.json({ maxDepth: 2 }), fc.constantFrom('', ' ', '\n\t')), { maxLength: 8 })
  .map((members) => `{${members.map(([k, v, ws]) => `${ws}"${k}"${ws}:${ws}${v}${ws}`).join(',')}}`);

function agrees(line: string, el: Element, value: unknown): void {
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  assert.equal(el.object, isObject);
  if (!el.object) return;
  const obj = value as Record<string, unknown>;
  assert.deepEqual(JSON.parse(line.slice(el.start, el.end)), obj);
  for (const k of KEYS) {
    const span: Span | undefined = el.members[k];
    if (!Object.hasOwn(obj, k)) {
      assert.equal(span, undefined, k);
      continue;
    }
    assert.ok(span !== undefined, k);
    assert.deepEqual(JSON.parse(line.slice(span.start, span.end)), obj[k], k);
  }
}

test('routing members are what JSON.parse sees: last duplicate wins, escaped keys count', () => {
  fc.assert(
    fc.property(fc.oneof(objectText, fc.array(fc.oneof(objectText, fc.json({ maxDepth: 2 })), { maxLength: 5 }).map((a) => `[${a.join(',')}]`)), (line) => {
      const value = JSON.parse(line) as unknown;
      const scanned = scanLine(line, OPEN);
      if (scanned.kind === 'single') return agrees(line, scanned.element, value);
      assert.equal(scanned.kind, 'batch');
      if (scanned.kind !== 'batch') return;
      const arr = value as unknown[];
      assert.equal(scanned.elements.length, arr.length);
      scanned.elements.forEach((el, i) => agrees(line, el, arr[i]));
    }),
    { numRuns: 1500 },
  );
});

/** Any JSON number, as text: sign, integer part, fraction, exponent in either case and sign. */
export const numberText = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.tuple(fc.integer({ min: 1, max: 9 }), fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 30 })).map(([a, b]) => `${a}${b}`)),
    fc.option(fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 20 })),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 4 }))),
  )
  .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`);

test('ids in every number form keep their text, with duplicate keys anywhere', () => {
  const limits = { maxBatchLength: 100, maxDepth: 64, maxMethodBytes: 256 };
  fc.assert(
    fc.property(fc.array(numberText, { minLength: 1, maxLength: 6 }), fc.boolean(), (ids, dup) => {
      const extra = dup ? ',"params":{"a":1,"a":[2]},"method":"m"' : '';
      const line = `[${ids.map((id) => `{"jsonrpc":"2.0","id":${dup ? 0 : id},"method":"m"${extra},"id":${id}}`).join(',')}]`;
      assert.ok(accepts(line));
      const p = parseLine(line, limits);
      assert.ok(p.kind === 'batch');
      if (p.kind !== 'batch') return;
      assert.deepEqual(
        p.items.map((i) => (i.kind === 'request' ? i.id : i.kind)),
        ids,
      );
    }),
    { numRuns: 500 },
  );
});

test('depth: refused exactly when nesting passes the limit', () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 150 }), fc.integer({ min: 2, max: 100 }), (opens, maxDepth) => {
      // true: an object member holding the next level; false: an array.
      const head = opens.map((o) => (o ? '{"k":' : '[')).join('');
      const tail = opens.map((o) => (o ? '}' : ']')).reverse().join('');
      const line = `${head}1${tail}`;
      const scanned = scanLine(line, { maxDepth, maxBatchLength: 1000 });
      // A top-level array is a batch: its element's depth counts from the element.
      const deep = scanned.kind === 'single' ? scanned.element.tooDeep : scanned.kind === 'batch' && scanned.elements[0]?.tooDeep === true;
      const levels = opens[0] === true ? opens.length : opens.length - 1;
      assert.equal(deep, levels > maxDepth, `${opens.length} levels, limit ${maxDepth}: ${scanned.kind}`);
    }),
    { numRuns: 500 },
  );
});

// Batch elements with the classification each must get: [text, kind, id].
const ELEMENTS: readonly (readonly [string, string, string | null])[] = [
  ['{"jsonrpc":"2.0","id":1,"method":"m"}', 'request', '1'],
  ['{"jsonrpc":"2.0","method":"m"}', 'request', null],
  ['{"jsonrpc":"2.0","id":1e-400,"method":"m","id":-0}', 'request', '-0'],
  ['{"jsonrpc":"2.0","id":"s","method":5}', 'invalid', '"s"'],
  ['{"type":"status"}', 'control', null],
  ['{"type":"status","jsonrpc":"2.0","id":2}', 'invalid', '2'],
  ['7', 'invalid', null],
  ['[]', 'invalid', null],
  ['null', 'invalid', null],
  ['{}', 'invalid', null],
];

test('batch shapes: each element classified on its own; empty and over-long batches are one error', () => {
  const limits = { maxBatchLength: 5, maxDepth: 8, maxMethodBytes: 16 };
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...ELEMENTS), { maxLength: 8 }), fc.constantFrom('', ' ', '\r\n'), (els, ws) => {
      const line = `${ws}[${ws}${els.map((e) => e[0]).join(`${ws},${ws}`)}${ws}]${ws}`;
      const p = parseLine(line, limits);
      if (els.length === 0 || els.length > 5) {
        assert.ok(p.kind === 'invalid' && p.id === null, JSON.stringify(p));
        return;
      }
      assert.ok(p.kind === 'batch');
      if (p.kind !== 'batch') return;
      assert.deepEqual(
        p.items.map((i) => [i.kind, i.kind === 'control' ? null : i.id]),
        els.map((e) => [e[1], e[2]]),
      );
    }),
    { numRuns: 500 },
  );
});

test('headId: the top-level id of a cut line, only when it stands whole before the cut', () => {
  const id = (head: string): string | null => {
    const span = headId(head, 4);
    return span === null ? null : head.slice(span.start, span.end);
  };
  assert.equal(id('{"jsonrpc":"2.0","id":18446744073709551617,"method":"m","params":["xxx'), '18446744073709551617');
  assert.equal(id('{"id":"a\\"b","params":{"id":9,"x":[[[[[[1,'), '"a\\"b"');
  assert.equal(id('{"params":{"id":9},"id":-1.5e3,'), '-1.5e3');
  // Cut inside the id, or right after it: its end is not known.
  assert.equal(id('{"jsonrpc":"2.0","id":1844674'), null);
  assert.equal(id('{"jsonrpc":"2.0","id":"abc'), null);
  assert.equal(id('{"jsonrpc":"2.0","id":12'), null);
  // Only a member of the top-level object counts; a batch or a line that is not JSON before the cut has none.
  assert.equal(id('{"params":{"id":9,"x":"'), null);
  assert.equal(id('[{"id":1,"method":"m","params":"'), null);
  assert.equal(id('{"id":1,,"params":"'), null);
  assert.equal(id('{"id":null,"params":"'), null);
  assert.equal(id('{"id":[1],"params":"'), null);
  // An object that ends before the cut: the line is more than one JSON value.
  assert.equal(id('{"id":1} {"x":"'), null);
});
