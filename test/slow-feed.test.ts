/**
 * The slow feed (src/pool/slow-feed.ts) against a real piscina: calls that
 * arrive while threads boot are taken by the thread that is up as it comes
 * free, not held for a boot; at most `bootAtOnce` tasks wait on booting
 * threads; a call aborted while it waits is never run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { SlowFeed } from '../src/pool/slow-feed.js';
import type { ThreadNews } from '../src/contract/contract.js';

const FIXTURE = new URL('./fixtures/slow-boot.js', import.meta.url).href;
const BOOT_MS = 2000;

/** A piscina whose first thread is up; later threads take BOOT_MS to boot. */
async function pool(t: { after: (fn: () => unknown) => void }, bootAtOnce: number): Promise<{ feed: SlowFeed; warm: number; piscina: Piscina }> {
  const piscina = new Piscina({ filename: FIXTURE, minThreads: 1, maxThreads: 6, idleTimeout: 2 ** 31 - 1, concurrentTasksPerWorker: 1, workerData: { order: new SharedArrayBuffer(4), bootMs: BOOT_MS } });
  const feed = new SlowFeed(piscina, bootAtOnce, { ms: 0 });
  piscina.on('message', (m: ThreadNews) => feed.news(m));
  t.after(() => {
    feed.close();
    return piscina.destroy();
  });
  const warm = (await piscina.run({ ms: 0 })) as number;
  // Its 'loaded' news was posted before it answered: let it arrive.
  await new Promise((r) => setImmediate(r));
  return { feed, warm, piscina };
}

test('calls queued behind a boot go to the thread that is up as it comes free', async (t) => {
  const { feed, warm } = await pool(t, 1);
  const t0 = performance.now();
  const calls = Array.from({ length: 5 }, () => feed.run({ ms: 50 }, undefined).then((id) => ({ id, ms: performance.now() - t0 })));
  const done = await Promise.all(calls);
  // One call started the boot and waits for it; the other four ran one after another on the warm thread.
  const onWarm = done.filter((d) => d.id === warm);
  assert.equal(onWarm.length, 4, JSON.stringify(done));
  for (const d of onWarm) assert.ok(d.ms < BOOT_MS / 2, `a call on the warm thread waited ${Math.round(d.ms)} ms: ${JSON.stringify(done)}`);
  assert.ok(done.some((d) => d.id !== warm && d.ms >= BOOT_MS / 2), JSON.stringify(done));
});

test('plain piscina, for comparison: the same calls wait out the boots', async (t) => {
  const { warm, piscina } = await pool(t, 1);
  const t0 = performance.now();
  const done = await Promise.all(Array.from({ length: 5 }, () => (piscina.run({ ms: 50 }) as Promise<number>).then((id) => ({ id, ms: performance.now() - t0 }))));
  // What the feed exists for: here calls are bound to booting threads while the warm one is free.
  assert.ok(done.filter((d) => d.id !== warm && d.ms >= BOOT_MS / 2).length >= 2, JSON.stringify(done));
});

test('no more than bootAtOnce tasks wait on booting threads; the rest wait in the feed', async (t) => {
  const { feed, piscina } = await pool(t, 2);
  const busy = feed.run({ ms: 300 }, undefined); // the warm thread
  const queued = Array.from({ length: 6 }, () => feed.run({ ms: 10 }, undefined));
  assert.equal(feed.inFlight, 3);
  assert.equal(feed.waiting, 4);
  assert.ok(piscina.threads.length <= 3, `threads started: ${piscina.threads.length}`);
  await Promise.all([busy, ...queued]);
  assert.equal(feed.inFlight, 0);
  assert.equal(feed.waiting, 0);
});

test('a call aborted while it waits in the feed is never run and rejects with AbortError', async (t) => {
  const { feed } = await pool(t, 1);
  const busy = feed.run({ ms: 200 }, undefined);
  const booting = feed.run({ ms: 10 }, undefined);
  const ac = new AbortController();
  const waiting = feed.run({ ms: 10 }, ac.signal);
  assert.equal(feed.waiting, 1);
  ac.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
  assert.equal(feed.waiting, 0);
  await Promise.all([busy, booting]);
});

test('close() fails what still waits', async (t) => {
  const { feed } = await pool(t, 1);
  const busy = feed.run({ ms: 100 }, undefined);
  const booting = feed.run({ ms: 10 }, undefined);
  const waiting = feed.run({ ms: 10 }, undefined);
  feed.close();
  await assert.rejects(waiting, /Terminating worker thread/);
  await assert.rejects(feed.run({ ms: 1 }, undefined), /Terminating worker thread/);
  await busy;
  void booting.catch(() => {});
});
