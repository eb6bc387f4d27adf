/**
 * Reload and recycling (docs/reload.md): a new module version is loaded in
 * new threads while the old ones serve, with no call lost and no connection
 * closed; a module that fails to load changes nothing; a leaking module's
 * threads are recycled between tasks with no failed call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Conn, roundTrip, rpc, startDaemon } from './helper.js';
import { status as statusReply } from './status.js';

/** A dispatch module whose every answer names its version; `broken` throws at import. */
function moduleSource(version: number, broken = false): string {
  return `${broken ? "throw new Error('version " + version + " is broken');\n" : ''}const pause = new Int32Array(new SharedArrayBuffer(4));
export const lanes = { version: 'fast', nap: 'slow' };
export function dispatch(method, params) {
  if (method === 'nap') Atomics.wait(pause, 0, 0, params.ms);
  return { version: ${version} };
}
`;
}

interface Tally {
  answered: number;
  errors: string[];
  /** The lowest version seen after the reload was acknowledged. */
  after: number[];
  duplicates: number;
  closed: number;
}

/** 64 connections, each pipelining calls (8 in flight) until `stop()`; then every call must be answered once. */
async function load(socket: string, reloadedAt: () => number | null): Promise<{ stop: () => Promise<Tally> }> {
  const tally: Tally = { answered: 0, errors: [], after: [], duplicates: 0, closed: 0 };
  let running = true;
  const conns = await Promise.all(Array.from({ length: 64 }, () => Conn.open(socket)));
  const loops = conns.map(async (c, k) => {
    let sent = 0;
    const seen = new Set<string>();
    c.socket.on('close', () => void (running && tally.closed++));
    while (running) {
      const batch: string[] = [];
      for (let i = 0; i < 8; i++) batch.push(rpc(`${k}-${sent + i}`, k % 8 === 0 ? 'nap' : 'version', k % 8 === 0 ? { ms: 20 } : {}));
      const sentAt = performance.now();
      c.send(batch.join(''));
      sent += 8;
      const lines = await c.waitLines(sent, 30_000);
      for (const l of lines.slice(sent - 8, sent)) {
        const m = JSON.parse(l) as { id: string; result?: { version: number }; error?: { code: number; message: string } };
        if (seen.has(m.id)) tally.duplicates++;
        seen.add(m.id);
        tally.answered++;
        if (m.error !== undefined) tally.errors.push(`${m.error.code} ${m.error.message}`);
        const at = reloadedAt();
        if (m.result !== undefined && at !== null && sentAt > at) tally.after.push(m.result.version);
      }
    }
    return sent;
  });
  return {
    async stop() {
      running = false;
      const sent = (await Promise.all(loops)).reduce((a, b) => a + b, 0);
      for (const c of conns) c.close();
      assert.equal(tally.answered, sent, 'every call answered');
      return tally;
    },
  };
}

test('a reload under load: every call answered once, no error, calls after it see the new version, no connection closed', { timeout: 120_000 }, async (t) => {
  const d = await startDaemon({ threads: 4, dispatch: await writeModule(1) });
  t.after(() => d.close());
  // A new version of the module at the same path, then a reload.
  const served = d.daemon.config.dispatch as string;
  let reloadedAt: number | null = null;
  const traffic = await load(d.socket, () => reloadedAt);
  await new Promise((r) => setTimeout(r, 1000));
  writeFileSync(served, moduleSource(2));
  const reply = await roundTrip(d.socket, rpc('r', 'rpc.reload'));
  reloadedAt = performance.now();
  assert.ok(reply.result !== undefined, JSON.stringify(reply));
  await new Promise((r) => setTimeout(r, 1500));
  const tally = await traffic.stop();
  assert.deepEqual(tally.errors, []);
  assert.equal(tally.duplicates, 0);
  assert.equal(tally.closed, 0);
  assert.ok(tally.after.length > 100, `${tally.after.length} calls after the reload`);
  assert.deepEqual([...new Set(tally.after)], [2]);
  const status = (await statusReply(d.socket)).pool;
  assert.equal(status.reloads, 1);
});

test('a reload whose module fails to load changes nothing: the old version serves, the reload reports the error, no call fails', { timeout: 120_000 }, async (t) => {
  const d = await startDaemon({ threads: 4, dispatch: await writeModule(1) });
  t.after(() => d.close());
  const served = d.daemon.config.dispatch as string;
  const traffic = await load(d.socket, () => null);
  await new Promise((r) => setTimeout(r, 500));
  writeFileSync(served, moduleSource(2, true));
  const reply = (await roundTrip(d.socket, rpc('r', 'rpc.reload'))) as { error?: { code: number; message: string; data?: { failure?: string } } };
  assert.equal(reply.error?.code, -32001, JSON.stringify(reply));
  assert.equal(reply.error?.data?.failure, 'reload_failed');
  assert.match(reply.error?.message ?? '', /version 2 is broken/);
  await new Promise((r) => setTimeout(r, 500));
  const tally = await traffic.stop();
  assert.deepEqual(tally.errors, []);
  assert.equal(tally.closed, 0);
  const after = (await roundTrip(d.socket, rpc(1, 'version'))) as { result: { version: number } };
  assert.equal(after.result.version, 1);
  const status = (await statusReply(d.socket)).pool;
  assert.equal(status.reloads, 0);
  assert.equal(status.reload_failures, 1);
  assert.match(status.last_reload_error ?? '', /version 2 is broken/);
});

test('a reload that worked, then one that failed, then the file fixed: the pool runs blocking calls side by side again and says it is loaded', { timeout: 120_000 }, async (t) => {
  const d = await startDaemon({ threads: 12, dispatch: await writeModule(1) });
  t.after(() => d.close());
  const served = d.daemon.config.dispatch as string;
  writeFileSync(served, moduleSource(2));
  assert.ok('result' in (await roundTrip(d.socket, rpc('r1', 'rpc.reload'))));
  writeFileSync(served, moduleSource(3, true));
  assert.ok('error' in (await roundTrip(d.socket, rpc('r2', 'rpc.reload'))));
  // Threads started from now on load the file as it is: put the working version back.
  writeFileSync(served, moduleSource(2));
  const burst = async (): Promise<number> => {
    const cs = await Promise.all(Array.from({ length: 12 }, () => Conn.open(d.socket)));
    const t0 = performance.now();
    cs.forEach((c, i) => c.send(rpc(i, 'nap', { ms: 300 })));
    const lines = await Promise.all(cs.map((c) => c.waitLines(1, 30_000)));
    for (const c of cs) c.close();
    for (const [l] of lines) assert.deepEqual((JSON.parse(l as string) as { result: unknown }).result, { version: 2 });
    return performance.now() - t0;
  };
  await burst(); // threads start on demand
  const ms = await burst();
  assert.ok(ms < 1500, `12 x 300 ms blocking calls took ${ms.toFixed(0)} ms after a failed reload (one at a time: 3600 ms)`);
  const status = (await statusReply(d.socket)).pool;
  assert.equal(status.module, 'loaded');
});

test('an unknown rpc. method is -32601, never the module’s', async (t) => {
  const d = await startDaemon();
  t.after(() => d.close());
  const reply = (await roundTrip(d.socket, rpc(1, 'rpc.nope'))) as { error?: { code: number } };
  assert.equal(reply.error?.code, -32601);
});

test('a module leaking ~1 MB a call under --recycle-heap-mb: threads recycle between tasks, RSS stays bounded, no call fails', { timeout: 240_000 }, async (t) => {
  const leak = `const kept = [];
export const lanes = { leak: 'fast' };
export function dispatch(method, params) {
  kept.push(new Array(128 * 1024).fill(params.i)); // ~1 MiB of heap, never freed
  return kept.length;
}
`;
  const d = await startDaemon({ threads: 2, recycleHeapMb: 48, dispatch: await writeModule(0, leak) });
  t.after(() => d.close());
  const c = await Conn.open(d.socket);
  t.after(() => c.close());
  const total = 1500;
  let peakRss = 0;
  for (let sent = 0; sent < total; sent += 50) {
    c.send(Array.from({ length: 50 }, (_, i) => rpc(sent + i, 'leak', { i: sent + i })).join(''));
    await c.waitLines(sent + 50, 60_000);
    if (sent % 250 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }
  const errors = c.lines.map((l) => JSON.parse(l) as { error?: unknown }).filter((m) => m.error !== undefined);
  assert.deepEqual(errors, []);
  const status = (await statusReply(d.socket)).pool;
  assert.ok(status.recycled_heap >= 10, JSON.stringify(status));
  // Threads that recycled themselves are forgotten (their guard slots freed with them).
  assert.ok(status.threads_loaded <= status.threads_started, JSON.stringify(status));
  // Without recycling this would hold 1.5 GB of heap.
  assert.ok(peakRss < 700 * 1024 * 1024, `RSS peaked at ${(peakRss / 1048576).toFixed(0)} MiB`);
});

let written = 0;
async function writeModule(version: number, source?: string): Promise<string> {
  const { mkdtempSync } = await import('node:fs');
  const dir = mkdtempSync('/tmp/dd-mod-');
  const file = join(dir, `m${written++}.mjs`);
  writeFileSync(file, source ?? moduleSource(version));
  return file;
}
