/**
 * The single-instance lock through koffi's flock: exclusive per open file
 * (so a second take in this very process is refused too), released on
 * release(), and a daemon that cannot load koffi refuses to start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock, LockHeldError } from '../src/host/lock.js';
import { BIN, FIXTURE } from './helper.js';
import { spawnDaemon, tempDir } from './daemons.js';

test('a held lock refuses a second taker naming the holder; released, it can be taken again', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'daemon.lock');
  const first = acquireLock(path);
  assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`);
  assert.throws(
    () => acquireLock(path),
    (err: unknown) => err instanceof LockHeldError && err.pid === process.pid,
  );
  first.release();
  first.release(); // idempotent
  const again = acquireLock(path);
  again.release();
});

test('koffi cannot load: serve exits 1 saying the lock needs koffi, and binds nothing', async (t) => {
  const dir = tempDir(t);
  // Stands in for an install where koffi has no binary for the platform: require('koffi') throws.
  const preload = join(dir, 'no-koffi.cjs');
  writeFileSync(
    preload,
    `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'koffi') throw Object.assign(new Error("Cannot find module 'koffi'"), { code: 'MODULE_NOT_FOUND' });
  return resolve.call(this, request, ...rest);
};
`,
  );
  const home = join(dir, 'home');
  const d = spawnDaemon(t, [], {}, { shell: `exec '${process.execPath}' --require '${preload}' '${BIN}' serve --home '${home}' --dispatch '${FIXTURE}' --threads 1` });
  const timer = setTimeout(() => d.proc.kill('SIGKILL'), 15_000);
  const code = await d.exited;
  clearTimeout(timer);
  assert.equal(code, 1, d.stderr);
  assert.match(d.stderr, /dispatchd: failed to start: cannot lock daemon\.lock: koffi did not load on \w+-\w+ \(Cannot find module 'koffi'\)/);
  assert.equal(existsSync(join(home, 'daemon.sock')), false);
});
