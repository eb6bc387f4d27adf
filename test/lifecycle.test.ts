/**
 * The one stop sequence (SPEC §4): `close()` graceful, `destroy()` immediate,
 * both idempotent, the scheduler stopped in both, and nothing written to
 * state.json once the lock is released — for an embedded daemon too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { Conn, FIXTURES, rpc, roundTrip, silent, sleep } from './helper.js';
import { startDaemon, tempDir } from './daemons.js';
import { Router } from '../src/server/router.js';
import { Server } from '../src/server/server.js';

/** The state file's identity: every atomic write renames a new inode into place. */
const fileId = (path: string): string => {
  const st = statSync(path);
  return `${st.ino}:${st.mtimeMs}:${readFileSync(path, 'utf8')}`;
};

async function until(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    assert.ok(Date.now() - t0 < ms, `timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('an embedded daemon that is destroyed never writes state.json again, even while ticking fast', async (t) => {
  const { daemon: first, home: dir } = await startDaemon(t, { threads: 1, tickMs: 10, idleMs: 3_600_000 });
  const path = join(dir, 'state.json');
  // It ticks: last_tick_at moves.
  const t0 = readFileSync(path, 'utf8');
  await until('a tick written', () => readFileSync(path, 'utf8') !== t0);
  await first.destroy();
  const { daemon: second } = await startDaemon(t, { threads: 1, tickMs: 60_000 }, { home: dir });
  const mine = fileId(path);
  await sleep(300); // thirty of the first daemon's tick intervals
  assert.equal(fileId(path), mine, 'the destroyed daemon wrote state.json after releasing its lock');
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).daemon_started_at, second.state.data.daemon_started_at);
});

test('destroy() during a maintenance cycle: the cycle ends unseen, nothing is written after the lock goes', async (t) => {
  const logs: Record<string, unknown>[] = [];
  const { daemon: first, config, home: dir } = await startDaemon(t, { dispatch: join(FIXTURES, 'slow-maintain.js'), threads: 2, tickMs: 20, idleMs: 3_600_000 }, { logs });
  assert.equal((await roundTrip(config.socket, { type: 'force_rem', ts: 't' })).ok, true);
  await until('dreaming', () => logs.some((l) => l.msg === 'transition' && l.fsm_state === 'DREAMING'));
  const t0 = performance.now();
  await first.destroy();
  assert.ok(performance.now() - t0 < 1000, 'destroy did not wait for the 1.5 s cycle');
  await startDaemon(t, { threads: 1, tickMs: 60_000 }, { home: dir });
  const path = join(dir, 'state.json');
  const mine = fileId(path);
  await sleep(1800); // past the end of the cycle the first daemon was running
  assert.equal(fileId(path), mine);
});

test('close() twice is one stop; destroy() during close() cuts the drain short and both settle', async (t) => {
  const d = await startDaemon(t, { threads: 1, drainTimeoutMs: 30_000 });
  const { daemon, config } = d;
  const c = await Conn.open(config.socket);
  t.after(() => c.close());
  c.send(rpc(1, 'sleep', { ms: 20_000 }));
  await until('the call running', () => daemon.pool.stats().running === 1);
  const t0 = performance.now();
  const a = daemon.close();
  assert.equal(daemon.close(), a, 'the same promise');
  await sleep(100);
  await daemon.destroy();
  assert.equal(await a, false, 'not drained');
  assert.ok(performance.now() - t0 < 5000, 'the 20 s call did not hold the stop');
  await daemon.destroy(); // again: settles at once
  assert.equal(await daemon.close(), false);
  // The lock is free: a successor starts on the same home.
  const next = await d.restart();
  assert.equal(await next.close(), true);
});

test('destroy() first, then close(): one stop, and the scheduler no longer ticks', async (t) => {
  const { daemon, home: dir } = await startDaemon(t, { threads: 1, tickMs: 10 });
  await Promise.all([daemon.destroy(), daemon.destroy(), daemon.close()]);
  const before = (daemon.scheduler.snapshot().last_tick_skipped_reason as string | null) ?? 'none';
  const path = join(dir, 'state.json');
  const id = fileId(path);
  await sleep(150);
  assert.equal(fileId(path), id);
  assert.equal((daemon.scheduler.snapshot().last_tick_skipped_reason as string | null) ?? 'none', before);
  await assert.rejects(daemon.state.update(() => undefined), { name: 'StateClosedError' });
});

test('a second Server.close() waits for the drain like the first', async (t) => {
  const d = await startDaemon(t, { threads: 1 });
  const { daemon, home: dir } = d;
  const { config } = daemon;
  const router = new Router({ pool: daemon.pool, control: daemon.control, onActivity: () => {}, onCall: () => {}, reload: () => daemon.reload() }, config);
  const path = join(dir, 'second.sock');
  const server = await Server.listen({ where: { kind: 'path', path }, router, limits: config, log: silent, threads: () => daemon.pool.threadsStarted });
  const c = await Conn.open(path);
  c.send(rpc(1, 'sleep', { ms: 400 }));
  await until('the call running', () => server.inFlight === 1);
  const first = server.close(5000);
  const second = server.close(5000);
  assert.equal(await second, true);
  assert.equal(c.lines.length, 1, 'the second close resolved only after the call was answered');
  assert.equal(await first, true);
  assert.deepEqual(JSON.parse(c.lines[0] as string).result, { slept: 400 });
  c.close();
});

test('a graceful stop whose drain runs out says so: close() resolves false', async (t) => {
  const logs: Record<string, unknown>[] = [];
  const d = await startDaemon(t, { threads: 1, drainTimeoutMs: 300 }, { logs });
  const c = await Conn.open(d.socket);
  t.after(() => c.close());
  c.send(rpc(1, 'sleep', { ms: 3000 }));
  await until('the call running', () => d.daemon.pool.stats().running === 1);
  assert.equal(await d.daemon.close(), false);
  assert.ok(logs.some((l) => l.msg === 'stopping with calls still running'));
});

test("a status read before the start is written shows this run's start, not none or the previous run's", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'state.json');
  const old = '2000-01-01T00:00:00.000Z';
  writeFileSync(path, JSON.stringify({ daemon_started_at: old, daemon_stopped_at: old, daemon_pid: 1 }), { mode: 0o600 });
  // stdio: the line is already waiting when the transport starts, so it is read before the state write completes.
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  stdin.write('{"type":"status"}\n');
  const t0 = Date.now();
  await startDaemon(t, { threads: 1, stdio: true }, { home: dir, stdin, stdout });
  const first = await new Promise<string>((resolve) => {
    let buf = '';
    stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
  });
  const status = JSON.parse(first) as Record<string, unknown>;
  assert.equal(typeof status.daemon_started_at, 'string');
  assert.ok(Date.parse(status.daemon_started_at as string) >= t0 - 5, `started_at ${String(status.daemon_started_at)} is not this run's`);
  assert.equal(typeof status.uptime_sec, 'number');
  assert.ok((status.uptime_sec as number) < 60);
  stdin.end();
});
