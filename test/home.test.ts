/**
 * The built daemon against a hostile home (SPEC §4, §6 "Files"): loose or
 * foreign homes are refused, planted symlinks are never followed, and an
 * unreadable state.json (a link, a FIFO, a 200k-deep nest) is moved aside.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Conn, FIXTURE, FIXTURES, roundTrip, waitForSocket, sleep, exitWithin } from './helper.js';
import { spawnDaemon, tempDir } from './daemons.js';

const serveArgs = (home: string, ...more: string[]): string[] => ['serve', '--home', home, '--dispatch', FIXTURE, '--threads', '1', ...more];



/** A file outside the home that a planted link points at. */
function victim(dir: string, text = 'precious\n'): { path: string; check: () => void } {
  const path = join(dir, 'victim');
  writeFileSync(path, text, { mode: 0o644 });
  chmodSync(path, 0o644);
  return {
    path,
    check: () => {
      assert.equal(readFileSync(path, 'utf8'), text, 'the link target is untouched');
      assert.equal(statSync(path).mode & 0o777, 0o644, 'the link target keeps its mode');
    },
  };
}

describe('home checks', () => {
  test('a home writable by others (0777) is refused with a clear message, before the lock', async (t) => {
    const dir = tempDir(t);
    const home = join(dir, 'home');
    mkdirSync(home);
    chmodSync(home, 0o777);
    const d = spawnDaemon(t, serveArgs(home));
    assert.equal((await exitWithin(d, 20_000)).code, 1, d.stderr);
    assert.match(d.stderr, /writable by group or others \(mode 0777\)/);
    assert.equal(existsSync(join(home, 'daemon.lock')), false);
  });

  test('a home owned by another uid is refused', async (t) => {
    const dir = tempDir(t);
    // As root, a home chowned to another uid; otherwise a directory root owns is foreign to us.
    const asRoot = process.getuid?.() === 0;
    const home = asRoot ? join(dir, 'home') : '/usr/share';
    if (asRoot) {
      mkdirSync(home, { mode: 0o700 });
      chownSync(home, 12345, 12345);
    }
    const d = spawnDaemon(t, serveArgs(home));
    assert.equal((await exitWithin(d, 20_000)).code, 1, d.stderr);
    assert.match(d.stderr, asRoot ? /owned by uid 12345/ : /owned by uid 0/);
  });

  test('a home under a directory others can write (no sticky bit) is refused', async (t) => {
    const dir = tempDir(t);
    const parent = join(dir, 'open');
    mkdirSync(parent);
    chmodSync(parent, 0o777);
    const d = spawnDaemon(t, serveArgs(join(parent, 'home')));
    assert.equal((await exitWithin(d, 20_000)).code, 1, d.stderr);
    assert.match(d.stderr, /without the sticky bit/);
  });
});

describe('planted symlinks', () => {
  test('daemon.lock planted as a symlink: refused, its target is not truncated', async (t) => {
    const dir = tempDir(t);
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    const v = victim(dir);
    symlinkSync(v.path, join(home, 'daemon.lock'));
    const d = spawnDaemon(t, serveArgs(home));
    assert.equal((await exitWithin(d, 20_000)).code, 1, d.stderr);
    assert.match(d.stderr, /daemon\.lock is a symbolic link/);
    v.check();
  });

  test('symlinks planted at every temp name a state write could pick: the targets are untouched', async (t) => {
    const dir = tempDir(t);
    const home = join(dir, 'home');
    const sock = join(home, 'daemon.sock');
    const d = spawnDaemon(t, serveArgs(home));
    await waitForSocket(sock);
    const v = victim(dir);
    // The names an attacker could predict: pid and millisecond clock.
    const pid = d.proc.pid as number;
    const t0 = Date.now();
    for (let ms = t0 - 500; ms < t0 + 4000; ms++) symlinkSync(v.path, join(home, `.state.json.${pid}.${ms}.tmp`));
    const c = await Conn.open(sock);
    for (let i = 0; i < 10; i++) {
      c.send({ type: i % 2 === 0 ? 'pause' : 'resume' });
      assert.equal((await c.json(i + 1)).ok, true);
      await sleep(50);
    }
    c.close();
    v.check();
    assert.ok(lstatSync(join(home, 'state.json')).isFile(), 'state.json is our own regular file');
    assert.equal(statSync(join(home, 'state.json')).mode & 0o777, 0o600);
  });

  test('state.json planted as a symlink: moved aside unread; its target is untouched', async (t) => {
    const dir = tempDir(t);
    const home = join(dir, 'home');
    const sock = join(home, 'daemon.sock');
    mkdirSync(home, { mode: 0o700 });
    const v = victim(dir, '{"scheduler_paused": true, "secret": "s3cret"}\n');
    symlinkSync(v.path, join(home, 'state.json'));
    spawnDaemon(t, serveArgs(home));
    await waitForSocket(sock);
    assert.equal((await roundTrip(sock, { type: 'status' })).scheduler_paused, false, 'the target was not loaded as state');
    const aside = readdirSync(home).filter((n) => n.startsWith('state.json.corrupt-'));
    assert.equal(aside.length, 1);
    assert.ok(lstatSync(join(home, aside[0] as string)).isSymbolicLink(), 'the link itself was moved aside');
    assert.deepEqual(await roundTrip(sock, { type: 'pause' }), { ok: true, paused: true });
    assert.ok(lstatSync(join(home, 'state.json')).isFile());
    v.check();
  });
});

describe('state file at start', () => {
  test('temp files left by a killed write are removed at start', async (t) => {
    const dir = tempDir(t);
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    const left = join(home, '.state.json.0123456789abcdef.tmp');
    writeFileSync(left, '{"half":');
    const d = spawnDaemon(t, serveArgs(home));
    await waitForSocket(join(home, 'daemon.sock'));
    assert.equal(existsSync(left), false);
    assert.match(d.stderr, /removed temp files left by an interrupted state write/);
  });

  test('a FIFO at state.json does not hang the start: it is moved aside as unreadable', async (t) => {
    const dir = tempDir(t);
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    execFileSync('mkfifo', [join(home, 'state.json')]);
    const d = spawnDaemon(t, serveArgs(home));
    await waitForSocket(join(home, 'daemon.sock'), 10_000);
    assert.match(d.stderr, /state file was unreadable/);
    assert.match(d.stderr, /is a FIFO/);
    const aside = readdirSync(home).filter((n) => n.startsWith('state.json.corrupt-'));
    assert.equal(aside.length, 1);
    assert.ok(lstatSync(join(home, aside[0] as string)).isFIFO());
  });

  test('a state.json nested 200k deep is moved aside; the daemon serves and persists', async (t) => {
    const dir = tempDir(t);
    const home = join(dir, 'home');
    const sock = join(home, 'daemon.sock');
    mkdirSync(home, { mode: 0o700 });
    const depth = 200_000;
    writeFileSync(join(home, 'state.json'), `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
    const d = spawnDaemon(t, serveArgs(home));
    await waitForSocket(sock, 10_000);
    assert.match(d.stderr, /nests deeper than/);
    assert.deepEqual(await roundTrip(sock, { type: 'pause' }), { ok: true, paused: true });
    assert.equal(JSON.parse(readFileSync(join(home, 'state.json'), 'utf8')).scheduler_paused, true);
    assert.equal(readdirSync(home).filter((n) => n.startsWith('state.json.corrupt-')).length, 1);
    d.proc.kill('SIGTERM');
    assert.equal((await exitWithin(d, 20_000)).code, 0, d.stderr);
  });

  test('a failed start leaves state.json byte for byte as it was', async (t) => {
    const dir = tempDir(t);
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    const before = '{"scheduler_paused": false, "daemon_stopped_at": "2020-01-01T00:00:00.000Z"}\n';
    writeFileSync(join(home, 'state.json'), before);
    const d = spawnDaemon(t, ['serve', '--home', home, '--dispatch', join(FIXTURES, 'bad-import.js'), '--threads', '1']);
    assert.equal((await exitWithin(d, 20_000)).code, 1, d.stderr);
    assert.equal(readFileSync(join(home, 'state.json'), 'utf8'), before);
    assert.deepEqual(readdirSync(home).filter((n) => n.endsWith('.tmp')), []);
  });
});
