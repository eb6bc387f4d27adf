/**
 * The built daemon's bad starts (SPEC §6 "Files"): whatever fails, the
 * process says so and exits promptly, holding nothing — no listener, no
 * lock, no stray socket, state.json as it was.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, FIXTURE, FIXTURES, waitForSocket, exitWithin } from './helper.js';
import { spawnDaemon, tempDir } from './daemons.js';
import { needs } from './tools.js';



describe('bad options', () => {
  test('a --socket path over sun_path exits 2 naming the option and the limit; nothing is left behind', async (t) => {
    const dir = tempDir(t);
    const home = join(dir, 'home');
    const sockDir = join(dir, 's');
    mkdirSync(sockDir, { mode: 0o700 });
    const sock = `${sockDir}/${'x'.repeat(120 - sockDir.length - 1)}`;
    assert.equal(Buffer.byteLength(sock), 120);
    const d = spawnDaemon(t, ['serve', '--home', home, '--dispatch', FIXTURE, '--socket', sock]);
    const { code } = await exitWithin(d, 20_000);
    assert.equal(code, 2);
    assert.match(d.stderr, /--socket \/ DISPATCHD_SOCKET: .* is 120 bytes; .*at most 107 bytes/);
    assert.deepEqual(readdirSync(sockDir), [], 'no socket at a truncated name');
    assert.equal(existsSync(home), false, 'nothing was started');
  });

  test('a --home whose default socket would be over sun_path exits 2 naming --home', async (t) => {
    const dir = tempDir(t);
    const home = join(dir, 'h'.repeat(110));
    const d = spawnDaemon(t, ['serve', '--home', home, '--dispatch', FIXTURE]);
    assert.equal((await exitWithin(d, 20_000)).code, 2);
    assert.match(d.stderr, /--home \/ DISPATCHD_HOME: the default socket path/);
  });
});

describe('failed starts exit promptly, holding nothing', () => {
  test('a dispatch module whose import never settles: clear message, exit 1 within a second, the lock is free', async (t) => {
    const dir = tempDir(t);
    const d = spawnDaemon(t, ['serve', '--home', dir, '--dispatch', join(FIXTURES, 'hang-import.js'), '--threads', '2', '--dispatch-load-timeout-ms', '500']);
    const { code, afterMessageMs } = await exitWithin(d, 15_000);
    assert.equal(code, 1);
    assert.match(d.stderr, /dispatch module did not load within 500 ms \(--dispatch-load-timeout-ms\)/);
    assert.ok(afterMessageMs !== null && afterMessageMs < 3000, `exited ${afterMessageMs} ms after saying so`);
    assert.equal(existsSync(join(dir, 'daemon.sock')), false);
    assert.equal(existsSync(join(dir, 'state.json')), false, 'a failed start writes no state');
    spawnDaemon(t, ['serve', '--home', dir, '--dispatch', FIXTURE, '--threads', '1']);
    await waitForSocket(join(dir, 'daemon.sock'));
  });

  // python3 puts a listening socket of the given kind on fd 3 and execs the daemon, keeping its pid.
  const withFd3 = (kind: 'tcp' | 'file', home: string): string =>
    `exec python3 -c '
import os, socket, sys
if sys.argv[1] == "tcp":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.bind(("127.0.0.1", 0)); s.listen(16); fd = s.fileno()
else:
    fd = os.open(sys.argv[2] + ".file", os.O_CREAT | os.O_RDWR, 0o600)
os.dup2(fd, 3); os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"; os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[3], sys.argv[3:])
' ${kind} '${home}' '${process.execPath}' '${BIN}' serve --home '${home}' --dispatch '${FIXTURE}' --threads 1`;

  for (const [kind, message] of [
    ['tcp', /fd 3 is a TCP socket/],
    ['file', /fd 3 is not a socket \(it is a regular file\)/],
  ] as const) {
    test(`an inherited fd 3 that is ${kind === 'tcp' ? 'a TCP listener' : 'a regular file'}: exit 1 naming what it is`, { skip: needs('python3') }, async (t) => {
      const dir = tempDir(t);
      const home = join(dir, 'home');
      const d = spawnDaemon(t, [], {}, { shell: withFd3(kind, home) });
      const { code, afterMessageMs } = await exitWithin(d, 15_000);
      assert.equal(code, 1, d.stderr);
      assert.match(d.stderr, message);
      assert.ok(afterMessageMs !== null && afterMessageMs < 3000, `exited ${afterMessageMs} ms after saying so`);
      assert.equal(existsSync(join(home, 'state.json')), false, 'a failed start writes no state');
    });
  }
});
