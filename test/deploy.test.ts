/**
 * The deploy units: systemd's own analysis of the service's sandbox, the
 * unit files verified by systemd, readiness through a NOTIFY_SOCKET the test
 * binds (a real datagram socket read by a small python3 receiver, since Node
 * cannot bind unix datagram sockets), and the launchd plist's keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LAUNCHD_SOCKET_NAME } from '../src/host/launchd.js';
import { FIXTURE, FIXTURES, join, roundTrip } from './helper.js';
import { spawnDaemon, tempDir, onTeardown } from './daemons.js';
import { needs } from './tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVICE = join(ROOT, 'deploy/systemd/dispatchd.service');
const SOCKET_UNIT = join(ROOT, 'deploy/systemd/dispatchd.socket');
const PLIST = join(ROOT, 'deploy/launchd/com.dispatchd.daemon.plist');
const NEWSYSLOG = join(ROOT, 'deploy/launchd/dispatchd.newsyslog.conf');

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const noAnalyze = analyze.error ? `systemd-analyze is not installed here (${analyze.error.message})` : false;

/** The service's [Service] settings as key → values (repeated keys collect). */
function serviceSettings(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync(SERVICE, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1] as string, [...(out.get(m[1] as string) ?? []), m[2] as string]);
  }
  return out;
}

test('systemd-analyze security rates the service OK or better (exposure ≤ 4.9)', { skip: noAnalyze }, () => {
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', SERVICE], { encoding: 'utf8' });
  const m = /Overall exposure level for dispatchd\.service: (\d+(?:\.\d+)?) (\w+)/.exec(r.stdout);
  assert.ok(m, `no exposure line in:\n${r.stdout}\n${r.stderr}`);
  const exposure = Number(m[1]);
  assert.ok(exposure <= 4.9, `exposure ${exposure} ${m[2]}`);
});

test('systemd-analyze verify accepts both units once installed', { skip: noAnalyze }, (t) => {
  const dir = tempDir(t);
  const unit = readFileSync(SERVICE, 'utf8').replaceAll('@NODE@', process.execPath).replaceAll('@DISPATCHD@', ROOT.replace(/\/$/, ''));
  writeFileSync(join(dir, 'dispatchd.service'), unit);
  writeFileSync(join(dir, 'dispatchd.socket'), readFileSync(SOCKET_UNIT));
  const r = spawnSync('systemd-analyze', ['verify', join(dir, 'dispatchd.service'), join(dir, 'dispatchd.socket')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', r.stderr);
});

test('the service restarts on failure but never on exit 2 (bad option) or 75 (lock held), and is Type=notify', () => {
  const s = serviceSettings();
  assert.deepEqual(s.get('Restart'), ['on-failure']);
  assert.deepEqual(s.get('RestartPreventExitStatus')?.join(' ').split(/\s+/).sort(), ['2', '75']);
  assert.deepEqual(s.get('Type'), ['notify']);
  // The notification comes from a child (systemd-notify): only "all" lets it through.
  assert.deepEqual(s.get('NotifyAccess'), ['all']);
  // The home must stay writable inside ProtectHome=read-only.
  assert.deepEqual(s.get('ReadWritePaths'), ['%h/.dispatchd']);
});

/** A unix datagram socket bound at `path`; resolves with the receiver and its printed messages. */
async function notifySocket(path: string): Promise<{ proc: ChildProcess; messages: string[]; next: (want: string, ms?: number) => Promise<void> }> {
  // Prints each datagram on one line; closes any fds passed with it, which is
  // how sd_notify_barrier() (BARRIER=1) learns the message was read.
  const py = [
    'import array, os, socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.bind(sys.argv[1])',
    'print("bound", flush=True)',
    'while True:',
    '    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(64))',
    '    for level, kind, data in anc:',
    '        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:',
    '            fds = array.array("i"); fds.frombytes(data[: len(data) - len(data) % 4])',
    '            for fd in fds: os.close(fd)',
    '    print(msg.decode().replace("\\n", " ").strip(), flush=True)',
  ].join('\n');
  const proc = spawn('python3', ['-c', py, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  let buf = '';
  let wake = (): void => {};
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      messages.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake();
  });
  const next = async (want: string, ms = 15_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!messages.some((m) => m.split(' ').includes(want))) {
      if (Date.now() > deadline) throw new Error(`no ${want} within ${ms} ms; got ${JSON.stringify(messages)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  };
  await next('bound');
  return { proc, messages, next };
}

test('under NOTIFY_SOCKET the daemon sends READY=1 once it answers, and STOPPING=1 on SIGTERM', { skip: needs('systemd-notify', 'python3') }, async (t) => {
  const dir = tempDir(t);
  const notify = await notifySocket(join(dir, 'notify'));
  onTeardown(t, () => notify.proc.kill('SIGKILL'));
  mkdirSync(join(dir, 'home'));
  const child = spawnDaemon(t, ['serve', '--home', join(dir, 'home'), '--dispatch', FIXTURE, '--threads', '1'], { NOTIFY_SOCKET: join(dir, 'notify') });
  await notify.next('READY=1');
  // READY=1 is sent only after the socket is served: it answers right away.
  const reply = await roundTrip(join(dir, 'home', 'daemon.sock'), { type: 'status' });
  assert.equal(reply.ok, true);
  assert.ok(!notify.messages.includes('STOPPING=1'));
  child.proc.kill('SIGTERM');
  await notify.next('STOPPING=1');
  assert.equal(await child.exited, 0, child.stderr);
  assert.ok(!child.stderr.includes('systemd-notify failed'), child.stderr);
});

test("the threads never inherit NOTIFY_SOCKET or LISTEN_*: they are taken before the first thread starts", async (t) => {
  const dir = tempDir(t);
  // LISTEN_PID names another process: activation is declined (and logged), but the variables must still go.
  const child = spawnDaemon(t, ['serve', '--home', dir, '--dispatch', join(FIXTURES, 'env-probe.js'), '--threads', '2', '--log-level', 'error'], {
    NOTIFY_SOCKET: join(dir, 'nobody-listens'),
    LISTEN_FDS: '1',
    LISTEN_PID: '1',
    LISTEN_FDNAMES: 'x',
  });
  for (let i = 0; i < 200 && !existsSync(join(dir, 'daemon.sock')); i++) await new Promise((r) => setTimeout(r, 50));
  // Both lanes' threads: a batch of calls spreads over whatever threads are up.
  const batch = Array.from({ length: 16 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'env' }));
  const replies = (await roundTrip(join(dir, 'daemon.sock'), batch)) as unknown as { result: unknown }[];
  assert.equal(replies.length, 16);
  for (const r of replies) assert.deepEqual(r.result, { NOTIFY_SOCKET: null, LISTEN_FDS: null, LISTEN_PID: null, LISTEN_FDNAMES: null });
  child.proc.kill('SIGTERM');
  assert.equal(await child.exited, 0, child.stderr);
});

test('without NOTIFY_SOCKET nothing is sent and the daemon starts as before', async (t) => {
  const dir = tempDir(t);
  const child = spawnDaemon(t, ['serve', '--home', dir, '--dispatch', FIXTURE, '--threads', '1', '--log-level', 'debug'], { NOTIFY_SOCKET: '' });
  for (let i = 0; i < 200 && !existsSync(join(dir, 'daemon.sock')); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await roundTrip(join(dir, 'daemon.sock'), { type: 'status' })).ok, true);
  child.proc.kill('SIGTERM');
  assert.equal(await child.exited, 0, child.stderr);
  assert.ok(!child.stderr.includes('systemd-notify'), child.stderr);
});

/** The plist as JSON, read by python3's plistlib (a real plist parser). */
function plist(): Record<string, unknown> {
  const r = spawnSync('python3', ['-c', 'import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', PLIST], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('the launchd plist starts on demand from a Sockets entry and never relaunches a bad config', { skip: needs('python3') }, () => {
  const p = plist();
  const sockets = p.Sockets as Record<string, Record<string, unknown>>;
  const entry = sockets[LAUNCHD_SOCKET_NAME];
  assert.ok(entry, `Sockets has no ${LAUNCHD_SOCKET_NAME} entry`);
  assert.equal(entry.SockPathName, '@HOME@/.dispatchd/daemon.sock');
  assert.equal(entry.SockPathMode, 0o600);
  assert.equal(p.RunAtLoad, undefined, 'on demand: no RunAtLoad');
  // SuccessfulExit=false would relaunch exit 2 / 75 forever; only a crash relaunches.
  assert.deepEqual(p.KeepAlive, { Crashed: true });
  assert.deepEqual(p.ProgramArguments, ['@NODE@', '@DISPATCHD@/bin/dispatchd.js', 'serve']);
});

test('the newsyslog entry rotates the plist\'s log and signals the pid in the lock file', { skip: needs('python3') }, () => {
  const lines = readFileSync(NEWSYSLOG, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  assert.equal(lines.length, 1);
  const [file, owner, mode, count, size, when, flags, pidFile, signal] = (lines[0] as string).trim().split(/\s+/);
  assert.equal(file, plist().StandardErrorPath);
  assert.equal(owner, '@USER@:staff');
  assert.equal(mode, '600');
  assert.ok(Number(count) >= 1 && Number(size) >= 1, `${count} ${size}`);
  assert.equal(when, '*');
  assert.match(flags ?? '', /^[JZXB]*$/);
  assert.equal(pidFile, '@HOME@/.dispatchd/daemon.lock');
  assert.equal(signal, '1'); // SIGHUP: a graceful stop; launchd restarts on the next connection
});
