/** The built daemon as a child process: what only a process shows (SPEC §4). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Conn, FIXTURE, FIXTURES, BIN, roundTrip, spawnCli, waitForSocket, sleep } from './helper.js';
import { spawnDaemon, tempDir, onTeardown } from './daemons.js';
import { needs } from './tools.js';

const serveArgs = (home: string, ...more: string[]): string[] => ['serve', '--home', home, '--dispatch', FIXTURE, '--threads', '2', ...more];

describe('CLI', () => {
  test('serve --help lists every option with its env variable', async () => {
    const c = spawnCli(['serve', '--help']);
    assert.equal(await c.exited, 0);
    for (const s of ['--home', 'DISPATCHD_HOME', '--socket', 'DISPATCHD_SOCKET', '--dispatch', '--threads', '--max-line-bytes', '--drain-timeout-ms']) {
      assert.ok(c.stdout.includes(s), s);
    }
  });

  test('call, status and control commands round-trip through a running daemon', async (t) => {
    const dir = tempDir(t);
    spawnDaemon(t, serveArgs(dir));
    await waitForSocket(join(dir, 'daemon.sock'));
    const call = spawnCli(['call', 'echo', '{"hello":"world"}', '--home', dir]);
    assert.equal(await call.exited, 0, call.stderr);
    assert.deepEqual(JSON.parse(call.stdout), { hello: 'world' });
    const bad = spawnCli(['call', 'nope', '--home', dir]);
    assert.equal(await bad.exited, 1);
    assert.equal(JSON.parse(bad.stderr).code, -32601);
    const status = spawnCli(['status', '--home', dir]);
    assert.equal(await status.exited, 0);
    assert.equal(JSON.parse(status.stdout).fsm_state, 'WAKE');
    for (const [cmd, key, value] of [
      ['pause', 'paused', true],
      ['resume', 'paused', false],
      ['wake', 'reason', 'wake_queued'],
      ['rem', 'reason', 'rem_queued'],
      ['session-open', 'reason', 'session_open_queued'],
      ['sleep', 'state', 'TRANSITIONING'],
    ] as const) {
      const c = spawnCli([cmd, '--home', dir]);
      assert.equal(await c.exited, 0, `${cmd}: ${c.stderr}`);
      assert.equal(JSON.parse(c.stdout)[key], value, cmd);
    }
  });

  test('a client command with no daemon exits non-zero with daemon_unreachable', async (t) => {
    const dir = tempDir(t);
    const c = spawnCli(['call', 'echo', '--home', dir]);
    assert.equal(await c.exited, 1);
    assert.match(c.stderr, /daemon_unreachable/);
  });
});

describe('lifecycle', () => {
  test('SIGTERM with a slow call in flight: the call is answered, then the socket is gone and state has daemon_stopped_at', async (t) => {
    const dir = tempDir(t);
    const sock = join(dir, 'daemon.sock');
    const daemon = spawnDaemon(t, serveArgs(dir));
    await waitForSocket(sock);
    assert.equal(statSync(sock).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const c = await Conn.open(sock);
    c.send({ jsonrpc: '2.0', id: 'slow', method: 'sleep', params: { ms: 700 } });
    await sleep(150);
    daemon.proc.kill('SIGTERM');
    const reply = await c.json(1, 5000);
    assert.deepEqual(reply, { jsonrpc: '2.0', id: 'slow', result: { slept: 700 } });
    assert.equal(await daemon.exited, 0);
    assert.equal(existsSync(sock), false);
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    assert.equal(typeof state.daemon_stopped_at, 'string');
    assert.equal(typeof state.daemon_started_at, 'string');
    c.close();
  });

  test('SIGINT and SIGHUP stop gracefully too', async (t) => {
    for (const sig of ['SIGINT', 'SIGHUP'] as const) {
      const dir = tempDir(t);
      const daemon = spawnDaemon(t, serveArgs(dir));
      await waitForSocket(join(dir, 'daemon.sock'));
      daemon.proc.kill(sig);
      assert.equal(await daemon.exited, 0, sig);
      assert.equal(existsSync(join(dir, 'daemon.sock')), false);
    }
  });

  test('a second signal stops at once', async (t) => {
    const dir = tempDir(t);
    const sock = join(dir, 'daemon.sock');
    const daemon = spawnDaemon(t, serveArgs(dir, '--drain-timeout-ms', '20000'));
    await waitForSocket(sock);
    const c = await Conn.open(sock);
    c.send({ jsonrpc: '2.0', id: 1, method: 'sleep', params: { ms: 10000 } });
    await sleep(100);
    const t0 = Date.now();
    daemon.proc.kill('SIGTERM');
    await sleep(200);
    daemon.proc.kill('SIGTERM');
    assert.notEqual(await daemon.exited, 0);
    assert.ok(Date.now() - t0 < 5000);
    c.close();
  });

  test('a second daemon on the same home exits non-zero at once, naming the running pid', async (t) => {
    const dir = tempDir(t);
    const first = spawnDaemon(t, serveArgs(dir));
    await waitForSocket(join(dir, 'daemon.sock'));
    const second = spawnDaemon(t, serveArgs(dir));
    const code = await second.exited;
    assert.notEqual(code, 0);
    assert.match(second.stderr, new RegExp(`pid ${first.proc.pid}`));
    assert.equal((await roundTrip(join(dir, 'daemon.sock'), { type: 'status' })).pid, first.proc.pid, 'the first keeps serving');
    first.proc.kill('SIGTERM');
    await first.exited;
  });

  test('a stale socket left by a killed daemon is replaced; the lock died with the process', async (t) => {
    const dir = tempDir(t);
    const sock = join(dir, 'daemon.sock');
    const first = spawnDaemon(t, serveArgs(dir));
    await waitForSocket(sock);
    first.proc.kill('SIGKILL');
    await first.exited;
    assert.ok(existsSync(sock), 'SIGKILL leaves the socket file');
    const second = spawnDaemon(t, serveArgs(dir));
    await waitForSocket(sock);
    assert.equal((await roundTrip(sock, { type: 'status' })).pid, second.proc.pid);
    second.proc.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });

  test('a socket that still answers is never removed', async (t) => {
    const dir = tempDir(t);
    const sock = join(dir, 'other.sock');
    const other = createServer((s) => {
      s.on('error', () => {});
      s.end('other\n');
    });
    await new Promise<void>((r) => other.listen(sock, r));
    onTeardown(t, () => other.close());
    const d = spawnDaemon(t, serveArgs(join(dir, 'home'), '--socket', sock));
    assert.notEqual(await d.exited, 0);
    assert.match(d.stderr, /in use/);
    const c = await Conn.open(sock);
    assert.deepEqual(await c.waitLines(1), ['other']);
    c.close();
  });

  test('a dispatch module that fails to import makes serve exit non-zero with the error', async (t) => {
    const dir = tempDir(t);
    const d = spawnDaemon(t, ['serve', '--home', dir, '--dispatch', join(FIXTURES, 'bad-import.js')]);
    assert.notEqual(await d.exited, 0);
    assert.match(d.stderr, /fixture import failure/);
    assert.equal(existsSync(join(dir, 'daemon.sock')), false);
  });
});

describe('socket activation', { skip: needs('python3') }, () => {
  // python3 binds the socket, puts it on fd 3 and execs the daemon, keeping its pid.
  const activate = (sock: string, home: string, pid: 'self' | number): string =>
    `exec python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o640); s.listen(16)
os.dup2(s.fileno(), 3); os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid()) if sys.argv[2] == "self" else sys.argv[2]
os.execv(sys.argv[3], sys.argv[3:])
' '${sock}' '${pid}' '${process.execPath}' '${BIN}' serve --home '${home}' --dispatch '${FIXTURE}' --threads 1`;

  test('LISTEN_PID = our pid: serves the inherited fd and leaves the path alone', async (t) => {
    const dir = tempDir(t);
    const sock = join(dir, 'activated.sock');
    const d = spawnDaemon(t, [], {}, { shell: activate(sock, join(dir, 'home'), 'self') });
    await waitForSocket(sock);
    assert.equal(statSync(sock).mode & 0o777, 0o640, 'no chmod of an activated socket');
    assert.equal(existsSync(join(dir, 'home', 'daemon.sock')), false, 'did not bind its own path');
    assert.deepEqual(await roundTrip(sock, { jsonrpc: '2.0', id: 1, method: 'echo', params: { via: 'fd3' } }), { jsonrpc: '2.0', id: 1, result: { via: 'fd3' } });
    assert.deepEqual((await roundTrip(sock, { jsonrpc: '2.0', id: 2, method: 'listen_env' })).result, { LISTEN_PID: null, LISTEN_FDS: null }, 'workers do not inherit LISTEN_*');
    d.proc.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    assert.ok(existsSync(sock), 'the supervisor owns the path: not unlinked');
  });

  test('LISTEN_PID of another process: binds the path itself and logs why', async (t) => {
    const dir = tempDir(t);
    const sock = join(dir, 'activated.sock');
    const home = join(dir, 'home');
    const d = spawnDaemon(t, [], {}, { shell: activate(sock, home, 1) });
    await waitForSocket(join(home, 'daemon.sock'));
    assert.match(d.stderr, /LISTEN_PID=1 is not this process/);
    d.proc.kill('SIGTERM');
    assert.equal(await d.exited, 0);
  });
});

describe('stdio transport', () => {
  test('serves the same router on stdin/stdout; EOF drains in-flight calls and exits 0', async (t) => {
    const dir = tempDir(t);
    const d = spawnDaemon(t, ['serve', '--stdio', '--home', dir, '--dispatch', FIXTURE, '--log-level', 'warn']);
    d.proc.stdin?.write('{"jsonrpc":"2.0","id":1,"method":"sleep","params":{"ms":300}}\n');
    d.proc.stdin?.write('{"type":"status"}\n{bad\n');
    d.proc.stdin?.end('{"jsonrpc":"2.0","id":2,"method":"echo","params":[2]}');
    assert.equal(await d.exited, 0, d.stderr);
    const lines = d.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 4);
    assert.ok(lines.some((l) => l.id === 1 && (l.result as { slept: number }).slept === 300));
    assert.ok(lines.some((l) => l.id === 2));
    assert.ok(lines.some((l) => l.fsm_state === 'WAKE'));
    assert.ok(lines.some((l) => (l.error as { code?: number })?.code === -32700));
  });
});


describe('crash safety', () => {
  test('SIGKILL during a burst of control messages: state.json is valid and holds every acknowledged mutation', async (t) => {
    const dir = tempDir(t);
    const sock = join(dir, 'daemon.sock');
    const daemon = spawnDaemon(t, serveArgs(dir));
    await waitForSocket(sock);
    const conns = await Promise.all([0, 1, 2, 3].map(() => Conn.open(sock)));
    const sent = 400;
    conns.forEach((c, k) => {
      for (let i = 0; i < sent; i++) c.send({ type: 'session_open', session_id: `c${k}-${i}`, ts: 'x' });
    });
    // Kill as soon as some (not all) acknowledgements have arrived.
    const t0 = Date.now();
    while (conns.reduce((n, c) => n + c.lines.length, 0) < 200 && Date.now() - t0 < 10_000) await sleep(2);
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    await sleep(50);
    const acked = conns.flatMap((c, k) => c.lines.map((l, i) => ((JSON.parse(l) as { ok: boolean }).ok ? `c${k}-${i}` : null))).filter((x): x is string => x !== null);
    assert.ok(acked.length >= 200);
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { first_turn_pending: Record<string, string> };
    for (const sid of acked) assert.ok(sid in state.first_turn_pending, `acknowledged ${sid} is on disk`);
    for (const c of conns) c.close();
    // And it restarts on the same home.
    const again = spawnDaemon(t, serveArgs(dir));
    await waitForSocket(sock);
    again.proc.kill('SIGTERM');
    assert.equal(await again.exited, 0);
  });
});
