/**
 * The daemon gives memory back once per quiet spell (src/lifecycle/idle-release.ts,
 * docs/pool.md "Idle memory after use"): after a period in which nothing
 * happened, following calls or threads coming and going — never while calls
 * come, never again while nothing happens, never with --quiet-release off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn, join, roundTrip, rpc, waitForSocket } from './helper.js';
import { spawnDaemon, startDaemon, tempDir } from './daemons.js';
import { status, statusUntil } from './status.js';
import type { MemoryStatus } from '../src/lifecycle/status-reply.js';

const PERIOD_MS = 500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const memory = async (socket: string): Promise<MemoryStatus> => (await status(socket)).memory;

/** quiet_releases once it reaches `n` (or fails after `ms`). */
async function releasesReach(socket: string, n: number, ms: number): Promise<number> {
  return (await statusUntil(socket, (s) => s.memory, (m) => m.quiet_releases >= n, ms)).quiet_releases;
}

/** quiet_releases once it has not changed for three periods (a release that saw a change is made once more). */
async function releasesSettle(socket: string, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let last = (await memory(socket)).quiet_releases;
  for (let since = performance.now(); performance.now() - since < 3 * PERIOD_MS; ) {
    assert.ok(performance.now() < deadline, `quiet_releases still changing after ${ms} ms`);
    await sleep(100);
    const now = (await memory(socket)).quiet_releases;
    if (now !== last) since = performance.now();
    last = now;
  }
  return last;
}

test('memory is given back once a quiet period follows activity; not while calls come; not again while nothing happens', async (t) => {
  const d = await startDaemon(t, { threadIdleMs: PERIOD_MS, quietRelease: 'on' });
  // The start itself (threads came) is activity: one release once the first period passes quiet.
  await releasesReach(d.socket, 1, 10 * PERIOD_MS);
  const first = await releasesSettle(d.socket, 20 * PERIOD_MS);
  await sleep(4 * PERIOD_MS);
  assert.equal((await memory(d.socket)).quiet_releases, first, 'released again with nothing new');
  // Calls one after another on one connection for six periods: no period is quiet.
  const c = await Conn.open(d.socket);
  t.after(() => c.socket.destroy());
  const t0 = performance.now();
  for (let i = 1; performance.now() - t0 < 6 * PERIOD_MS; i++) {
    c.send(rpc(i, 'echo', { i }));
    assert.deepEqual((await c.json(i)).result, { i });
  }
  assert.equal((await memory(d.socket)).quiet_releases, first, 'released while calls came');
  // Quiet again: released once more.
  await releasesReach(d.socket, first + 1, 10 * PERIOD_MS);
});

for (const quietRelease of ['off', 'auto'] as const) {
  test(`--quiet-release ${quietRelease} never releases in a daemon embedded in another process`, async (t) => {
    const d = await startDaemon(t, { threadIdleMs: PERIOD_MS, quietRelease });
    assert.deepEqual((await roundTrip(d.socket, rpc(1, 'echo', { a: 1 }))).result, { a: 1 });
    await sleep(6 * PERIOD_MS);
    assert.equal((await memory(d.socket)).quiet_releases, 0);
  });
}

test('dispatchd serve, on the default (auto), gives memory back after a quiet spell', async (t) => {
  const home = tempDir(t);
  const socket = join(home, 'daemon.sock');
  const child = spawnDaemon(t, ['serve', '--home', home, '--log-level', 'warn', '--thread-idle-ms', String(PERIOD_MS)]);
  await waitForSocket(socket);
  // A call (the built-in store answers it, or refuses it): activity, then quiet.
  assert.equal((await roundTrip(socket, rpc(1, 'memory_recall', { query: 'quiet' }))).id, 1);
  await releasesReach(socket, 1, 20 * PERIOD_MS);
  child.proc.kill('SIGTERM');
  assert.equal(await child.exited, 0, child.stderr);
});
