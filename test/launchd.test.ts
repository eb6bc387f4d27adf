/**
 * launchd socket activation, run here on Linux: the daemon gets its listening
 * fd from an injected activation function instead of binding a path. The
 * injected function is the real koffi binding (src/launchd.ts) loaded from a
 * stand-in library this test compiles, whose launch_activate_socket() binds
 * and listens on a path, mallocs the fd array and returns it as launchd does.
 * launchd itself (macOS) was not run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { launchdActivation } from '../src/host/activation.js';
import { bindActivateSocket, platformActivateSocket, LAUNCHD_SOCKET_NAME } from '../src/host/launchd.js';
import { join, roundTrip, rpc, Conn } from './helper.js';
import { startDaemon, tempDir } from './daemons.js';

// launch_activate_socket's contract: 0 and a malloc'd fd array, or an errno.
// The stand-in serves the entry "Listeners" at $DD_LAUNCHD_PATH; any other name is ENOENT,
// and an unset path is ESRCH (not started by launchd).
const STUB = `
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int launch_activate_socket(const char *name, int **fds, size_t *cnt) {
  const char *path = getenv("DD_LAUNCHD_PATH");
  if (path == NULL) return ESRCH;
  if (strcmp(name, "Listeners") != 0) return ENOENT;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa; memset(&sa, 0, sizeof sa); sa.sun_family = AF_UNIX;
  strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0) return errno;
  *fds = malloc(sizeof(int)); (*fds)[0] = fd; *cnt = 1;
  return 0;
}
`;

const cc = spawnSync('cc', ['--version']);
const noCc = cc.error ? `no C compiler here to build the stand-in library (${cc.error.message})` : false;

function buildStub(dir: string): string {
  writeFileSync(join(dir, 'stub.c'), STUB);
  const lib = join(dir, 'libstub.so');
  const r = spawnSync('cc', ['-shared', '-fPIC', '-o', lib, join(dir, 'stub.c')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return lib;
}

test('the daemon serves the fd launch_activate_socket returns, leaves --socket alone, and status shows the served path', { skip: noCc }, async (t) => {
  const dir = tempDir(t);
  const activate = await bindActivateSocket(buildStub(dir));
  const served = join(dir, 'launchd.sock');
  process.env.DD_LAUNCHD_PATH = served;
  t.after(() => {
    delete process.env.DD_LAUNCHD_PATH;
  });
  const { config } = await startDaemon(t, { threads: 1 }, { home: join(dir, 'home'), activateSocket: activate });
  assert.equal(existsSync(config.socket), false, 'the --socket path must not be bound');
  const c = await Conn.open(served);
  c.send(rpc(1, 'echo', { a: 1 }));
  assert.deepEqual((await c.json(1)).result, { a: 1 });
  c.close();
  const status = await roundTrip(served, { type: 'status' });
  assert.equal((status.config as Record<string, unknown>).socket, served);
});

test('not launchd\'s job (ESRCH / ENOENT) is "not activated"; the daemon binds its own path', { skip: noCc }, async (t) => {
  const dir = tempDir(t);
  const activate = await bindActivateSocket(buildStub(dir));
  t.after(() => {
    delete process.env.DD_LAUNCHD_PATH;
  });
  assert.deepEqual(await activate(LAUNCHD_SOCKET_NAME), []); // DD_LAUNCHD_PATH unset: ESRCH
  process.env.DD_LAUNCHD_PATH = join(dir, 'x.sock');
  assert.deepEqual(await activate('Other'), []); // ENOENT
  delete process.env.DD_LAUNCHD_PATH;
  const { config } = await startDaemon(t, { threads: 1 }, { home: join(dir, 'home'), activateSocket: activate });
  assert.equal((await roundTrip(config.socket, { type: 'status' })).ok, true);
});

test('a failing activation function is a logged reason, not a failed start', async () => {
  const failing = async (): Promise<readonly number[]> => {
    throw new Error('launch_activate_socket("Listeners") failed: errno 37');
  };
  const a = await launchdActivation(failing);
  assert.equal(a.activated, false);
  assert.match(a.activated ? '' : (a.reason ?? ''), /^launchd: .*errno 37/);
  assert.deepEqual(await launchdActivation(async () => [7, 8]), { activated: true, fd: 7, count: 2 });
});

test('LISTEN_FDS wins over launchd, and launchd is asked only on darwin', async (t) => {
  assert.equal(platformActivateSocket('linux'), null);
  assert.equal(typeof platformActivateSocket('darwin'), 'function');
  let asked = 0;
  // LISTEN_PID names another process: a reason is logged and the path is bound; launchd is not asked.
  const { config } = await startDaemon(
    t,
    { threads: 1 },
    {
      env: { LISTEN_PID: '1', LISTEN_FDS: '1' },
      activateSocket: async () => {
        asked++;
        return [];
      },
    },
  );
  assert.equal(asked, 0);
  assert.equal((await roundTrip(config.socket, { type: 'status' })).ok, true);
});
