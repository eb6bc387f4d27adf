/**
 * guardNative (docs/store.md "Stopping a thread that is inside native
 * code"). A thread takes a guard slot as it starts; the slot is freed when
 * the thread is gone — else, after a few dozen thread starts, every new
 * thread would run unguarded and a deadline kill would terminate it inside
 * native code (SIGABRT with better-sqlite3). `--threads 2` keeps the slots
 * few (3 x 3 regions + 8 = 17), so 30 thread starts are well past them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canPeer, peerHold } from '../bench/store-peers.js';
import { Conn, FIXTURES, join, rpc, roundTrip, spawnCli, tmpHome, waitForSocket, killChild } from './helper.js';
import type { PoolStatus } from '../src/lifecycle/status-reply.js';
import { status } from './status.js';

const pool = async (socket: string): Promise<PoolStatus> => (await status(socket)).pool;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a thread stopped at its deadline inside guardNative waits for it to return, however many threads came before', { timeout: 120_000 }, async (t) => {
  const { dir, cleanup } = tmpHome();
  const socket = join(dir, 'daemon.sock');
  const daemon = spawnCli(['serve', '--home', dir, '--dispatch', join(FIXTURES, 'guarded-wait.js'), '--call-deadline-ms', '100', '--threads', '2']);
  t.after(async () => {
    await killChild(daemon);
    cleanup();
  });
  await waitForSocket(socket);
  const c = await Conn.open(socket);
  t.after(() => c.close());
  // Each call is stopped at 100 ms while its thread waits 300 ms in a guarded section; the thread
  // must stay (threads_in_native 1) until the wait returns, then a new thread replaces it.
  for (let k = 0; k < 30; k++) {
    c.send(rpc(k, 'wait', { ms: 300 }));
    const reply = await c.json(k + 1, 10_000);
    assert.equal((reply.error as { code: number } | undefined)?.code, -32004, JSON.stringify(reply));
    const p = await pool(socket);
    assert.equal(p.threads_in_native, 1, `call ${k}: the stopped thread is no longer inside its guarded section 0-100 ms after its deadline (terminated inside it); ${JSON.stringify(p)}`);
    await sleep(300);
  }
});

test('deadline kills of captures waiting on a held lock never abort the process, however many threads came before', { skip: canPeer() ? false : 'no python3 sqlite3', timeout: 120_000 }, async (t) => {
  const { dir, cleanup } = tmpHome();
  const socket = join(dir, 'daemon.sock');
  const daemon = spawnCli(['serve', '--home', dir, '--call-deadline-ms', '300', '--threads', '2']);
  t.after(async () => {
    await killChild(daemon);
    cleanup();
  });
  await waitForSocket(socket);
  await roundTrip(socket, rpc(1, 'memory_capture', { text: 'seed' }));
  const hold = await peerHold(join(dir, 'store.db'), 25);
  let stop = false;
  const loops = Array.from({ length: 8 }, async (_, i) => {
    for (let k = 0; !stop && daemon.proc.exitCode === null && daemon.proc.signalCode === null; k++) {
      try {
        await roundTrip(socket, rpc(k, 'memory_capture', { text: `x ${i} ${k}` }));
      } catch {
        await sleep(100);
      }
    }
  });
  // Every capture is stopped at its deadline; each stopped thread is replaced: 30 thread starts.
  for (let i = 0; i < 400 && daemon.proc.exitCode === null && daemon.proc.signalCode === null; i++) {
    await sleep(100);
    try {
      if ((await pool(socket)).threads_created >= 30) break;
    } catch {
      /* the daemon may be gone: checked below */
    }
  }
  stop = true;
  await Promise.all(loops);
  assert.equal(daemon.proc.signalCode, null, `daemon died by ${daemon.proc.signalCode}: ${daemon.stderr.split('\n').filter((l) => /FATAL/.test(l)).join(' ')}`);
  assert.equal(daemon.proc.exitCode, null);
  await hold.released.catch(() => {});
});
