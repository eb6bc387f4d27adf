import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fifo } from '../src/pool/fifo.js';

type Item = { state: string; n: number };

test('FIFO order; cancelled items are skipped', () => {
  const q = new Fifo<Item>();
  const items = Array.from({ length: 5 }, (_, n) => ({ state: 'queued', n }));
  for (const i of items) q.push(i);
  (items[1] as Item).state = 'cancelled';
  q.live--;
  const out: number[] = [];
  for (let i = q.shift(); i; i = q.shift()) out.push(i.n);
  assert.deepEqual(out, [0, 2, 3, 4]);
  assert.equal(q.live, 0);
});

test('cancelled items do not pile up while the head does not move', () => {
  const q = new Fifo<Item>();
  for (let round = 0; round < 50; round++) {
    const batch = Array.from({ length: 1000 }, (_, n) => ({ state: 'queued', n }));
    for (const i of batch) q.push(i);
    for (const i of batch) {
      i.state = 'cancelled';
      q.live--;
    }
  }
  assert.ok(q.held < 4000, `held ${q.held}`);
  assert.equal(q.shift(), undefined);
});

test('unshift puts items back at the head in order; peek skips cancelled items', () => {
  const q = new Fifo<Item>();
  const items = Array.from({ length: 4 }, (_, n) => ({ state: 'queued', n }));
  for (const i of items) q.push(i);
  const a = q.shift() as Item;
  const b = q.shift() as Item;
  q.unshift([a, b]);
  assert.equal(q.live, 4);
  (items[0] as Item).state = 'cancelled';
  q.live--;
  assert.equal(q.peek()?.n, 1);
  const out: number[] = [];
  for (let i = q.shift(); i; i = q.shift()) out.push(i.n);
  assert.deepEqual(out, [1, 2, 3]);
  q.unshift([{ state: 'queued', n: 9 }]);
  assert.equal(q.shift()?.n, 9);
});
