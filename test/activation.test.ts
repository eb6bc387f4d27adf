import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { describeListenFd, takeActivation } from '../src/host/activation.js';
import { tempDir } from './daemons.js';

test('LISTEN_PID = our pid and LISTEN_FDS ≥ 1: activated on fd 3; the variables are cleared', () => {
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '4242', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b', KEEP: 'x' };
  assert.deepEqual(takeActivation(env, 4242), { activated: true, fd: 3, count: 2 });
  assert.deepEqual(env, { KEEP: 'x' });
});

const cases: [NodeJS.ProcessEnv, RegExp | null][] = [
  [{}, null],
  [{ LISTEN_PID: '4242' }, /both/],
  [{ LISTEN_FDS: '1' }, /both/],
  [{ LISTEN_PID: '1', LISTEN_FDS: '1' }, /not this process/],
  [{ LISTEN_PID: 'abc', LISTEN_FDS: '1' }, /LISTEN_PID is not a number/],
  [{ LISTEN_PID: '4242', LISTEN_FDS: 'x' }, /LISTEN_FDS is not a number/],
  [{ LISTEN_PID: '4242', LISTEN_FDS: '0' }, /LISTEN_FDS is 0/],
  [{ LISTEN_PID: '4242', LISTEN_FDS: '-1' }, /not a number/],
];
for (const [env, reason] of cases) {
  test(`not activated: ${JSON.stringify(env)}`, () => {
    const copy = { ...env };
    const r = takeActivation(copy, 4242);
    assert.equal(r.activated, false);
    if (!r.activated) {
      if (reason === null) assert.equal(r.reason, null);
      else assert.match(String(r.reason), reason);
    }
    assert.equal('LISTEN_PID' in copy || 'LISTEN_FDS' in copy, false, 'cleared either way');
  });
}

test('describeListenFd names what an inherited fd is when it is not a listening unix socket', (t) => {
  const dir = tempDir(t);
  const file = openSync(join(dir, 'f'), 'w');
  execFileSync('mkfifo', [join(dir, 'p')]);
  const fifo = openSync(join(dir, 'p'), constants.O_RDWR | constants.O_NONBLOCK);
  t.after(() => {
    closeSync(file);
    closeSync(fifo);
  });
  assert.equal(describeListenFd(file), `fd ${file} is not a socket (it is a regular file)`);
  assert.equal(describeListenFd(fifo), `fd ${fifo} is not a socket (it is a FIFO)`);
  assert.match(String(describeListenFd(4000)), /^fd 4000 is not open \(EBADF\)$/);
});
