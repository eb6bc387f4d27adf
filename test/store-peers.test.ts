/**
 * The built-in store among other programs (the daemon as a child process,
 * on its defaults): another process reading or locking store.db never costs
 * an acknowledged capture, never leaves a thread failing calls, and never
 * takes the daemon down. The peer is Python's sqlite3 module (what the
 * `sqlite3` shell does: open, read, close — the last one out checkpoints).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canPeer, peerHold, readerThenKill } from '../bench/store-peers.js';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { Conn, join, rpc, roundTrip, spawnCli, tmpHome, waitForSocket, killChild, exitWithin, type Child } from './helper.js';
import { status as statusReply } from './status.js';

const skip = canPeer() ? false : 'python3 with its sqlite3 module is not installed';

function serve(home: string, ...more: string[]): Child {
  return spawnCli(['serve', '--home', home, ...more]);
}

async function call(socket: string, method: string, params: unknown): Promise<Record<string, unknown>> {
  return roundTrip(socket, rpc(1, method, params));
}

test('a reader between captures, then SIGKILL: every acknowledged capture is there after a restart', { skip, timeout: 90_000 }, async () => {
  const r = await readerThenKill(20);
  assert.equal(r.acknowledged, 21);
  assert.equal(r.lost, 0, `${r.lost} of ${r.acknowledged} acknowledged captures lost`);
});

test('another process holds the write lock for 7 s during traffic: after it lets go, no call fails and status told the truth', { skip, timeout: 90_000 }, async (t) => {
  const { dir, cleanup } = tmpHome();
  const socket = join(dir, 'daemon.sock');
  const daemon = serve(dir);
  t.after(async () => {
    await killChild(daemon);
    cleanup();
  });
  await waitForSocket(socket);
  await call(socket, 'memory_capture', { text: 'seed' });
  const hold = await peerHold(join(dir, 'store.db'), 7);
  // Traffic that needs more threads than are warm: new threads open the store under the lock.
  const conns = await Promise.all(Array.from({ length: 8 }, () => Conn.open(socket)));
  conns.forEach((c, k) => c.send(Array.from({ length: 4 }, (_, i) => rpc(i, i % 2 === 0 ? 'memory_capture' : 'memory_recall', i % 2 === 0 ? { text: `during ${k} ${i}` } : { cue: 'seed' })).join('')));
  const during = Promise.all(conns.map((c) => c.waitLines(4, 40_000)));
  await hold.released;
  const releasedAt = Date.now();
  // From one second after the release: every call is answered with a result.
  await new Promise((r) => setTimeout(r, 1000));
  const after = await Conn.open(socket);
  after.send(Array.from({ length: 200 }, (_, i) => rpc(i, i % 2 === 0 ? 'memory_capture' : 'memory_get', i % 2 === 0 ? { text: `after ${i}` } : { id: 1 })).join(''));
  const lines = await after.waitLines(200, 30_000);
  after.close();
  const errors = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((m) => !('result' in m));
  assert.deepEqual(errors, [], `${errors.length} of 200 calls failed after the release`);
  // Calls made during the lock waited for it or failed as lock timeouts — never as a module that failed to load.
  for (const ls of await during) {
    for (const l of ls) {
      const m = JSON.parse(l) as { error?: { message: string } };
      if (m.error !== undefined) assert.doesNotMatch(m.error.message, /failed to load/, l);
    }
  }
  for (const c of conns) c.close();
  const status = await statusReply(socket);
  assert.ok(status.pool.threads_loaded >= 1, JSON.stringify(status.pool));
  assert.ok(Date.now() - releasedAt < 30_000);
});

test('a deadline or a stop while a thread waits on a held lock never aborts the process', { skip, timeout: 90_000 }, async (t) => {
  const { dir, cleanup } = tmpHome();
  const socket = join(dir, 'daemon.sock');
  let daemon = serve(dir, '--call-deadline-ms', '1000', '--drain-timeout-ms', '1000');
  t.after(async () => {
    await killChild(daemon);
    cleanup();
  });
  await waitForSocket(socket);
  await call(socket, 'memory_capture', { text: 'seed' });
  let hold = await peerHold(join(dir, 'store.db'), 4);
  // Deadline: the capture is answered -32004; the daemon lives on and serves.
  const stopped = await call(socket, 'memory_capture', { text: 'waits for the lock' });
  assert.equal((stopped.error as { code: number } | undefined)?.code, -32004, JSON.stringify(stopped));
  await hold.released;
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(daemon.proc.exitCode, null, `daemon died: ${daemon.proc.signalCode} ${daemon.stderr.slice(-400)}`);
  const ok = await call(socket, 'memory_capture', { text: 'after the lock' });
  assert.ok('result' in ok, JSON.stringify(ok));
  // Drain: SIGTERM while a capture waits on the lock exits 0.
  hold = await peerHold(join(dir, 'store.db'), 3);
  const waiting = await Conn.open(socket);
  waiting.send(rpc(7, 'memory_capture', { text: 'waits during the stop' }));
  await new Promise((r) => setTimeout(r, 200));
  daemon.proc.kill('SIGTERM');
  const { code } = await exitWithin(daemon, 20_000);
  assert.equal(daemon.proc.signalCode, null, daemon.stderr.slice(-400));
  assert.equal(code, 0, daemon.stderr.slice(-400));
  waiting.close();
  await hold.released;
  daemon = serve(dir);
  await waitForSocket(socket);
});

test('a store.db another program created first (0644) is made private at start, before any connection', { skip, timeout: 60_000 }, async (t) => {
  const { dir, cleanup } = tmpHome();
  const socket = join(dir, 'daemon.sock');
  const db = join(dir, 'store.db');
  writeFileSync(db, '', { mode: 0o644 });
  chmodSync(db, 0o644);
  const daemon = spawnCli(['serve', '--home', dir]);
  t.after(async () => {
    await killChild(daemon);
    cleanup();
  });
  await waitForSocket(socket);
  assert.equal(statSync(db).mode & 0o777, 0o600);
  const r = await roundTrip(socket, rpc(1, 'memory_capture', { text: 'in a store someone else created' }));
  assert.ok('result' in r, JSON.stringify(r));
});
