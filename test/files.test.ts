/** The safe file primitives (src/files.ts) on a real temp directory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileKindError, openRegular, readRegularFile, refuseSymlinks, removeLeftoverTemps, writeFileAtomic } from '../src/host/files.js';
import { tempDir } from './daemons.js';

test('readRegularFile: a regular file is read; anything else is unreadable, never followed or waited on', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'ok'), '{"a":1}');
  writeFileSync(join(dir, 'target'), 'secret');
  symlinkSync(join(dir, 'target'), join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  mkdirSync(join(dir, 'dir'));
  writeFileSync(join(dir, 'latin1'), Buffer.from([0x7b, 0xe9, 0x7d]));
  writeFileSync(join(dir, 'big'), 'x'.repeat(100));
  assert.deepEqual(readRegularFile(join(dir, 'ok'), 1000), { kind: 'ok', text: '{"a":1}' });
  assert.deepEqual(readRegularFile(join(dir, 'missing'), 1000), { kind: 'missing' });
  for (const [name, what] of [
    ['link', /is a symbolic link/],
    ['fifo', /is a FIFO/],
    ['dir', /is a directory/],
    ['latin1', /not valid UTF-8/],
    ['big', /100 bytes, over 10/],
  ] as const) {
    const r = readRegularFile(join(dir, name), name === 'big' ? 10 : 1000);
    assert.equal(r.kind, 'unreadable', name);
    if (r.kind === 'unreadable') assert.match(r.reason, what, name);
  }
});

test('openRegular refuses a symlink without touching its target', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'target'), 'keep');
  symlinkSync(join(dir, 'target'), join(dir, 'lock'));
  assert.throws(() => openRegular(join(dir, 'lock'), constants.O_RDWR | constants.O_CREAT), (e: Error) => e instanceof FileKindError && /symbolic link/.test(e.message));
  assert.equal(readFileSync(join(dir, 'target'), 'utf8'), 'keep');
});

test('writeFileAtomic replaces a symlink at the target (never writes through it), mode 0600, no temp left', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'victim'), 'precious', { mode: 0o644 });
  symlinkSync(join(dir, 'victim'), join(dir, 'state.json'));
  const old = process.umask(0o022);
  try {
    await writeFileAtomic(join(dir, 'state.json'), '{}\n');
  } finally {
    process.umask(old);
  }
  assert.equal(readFileSync(join(dir, 'victim'), 'utf8'), 'precious');
  assert.equal(statSync(join(dir, 'victim')).mode & 0o777, 0o644);
  assert.ok(lstatSync(join(dir, 'state.json')).isFile());
  assert.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir).sort(), ['state.json', 'victim']);
});

test('writeFileAtomic fails cleanly when the rename cannot happen: target untouched, no temp left', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'state.json')); // a directory where the file should go
  writeFileSync(join(dir, 'state.json', 'inside'), 'x');
  await assert.rejects(writeFileAtomic(join(dir, 'state.json'), '{}\n'));
  assert.deepEqual(readdirSync(dir), ['state.json']);
  assert.deepEqual(readdirSync(join(dir, 'state.json')), ['inside']);
});

test('removeLeftoverTemps removes only our own temp names (links too, never their targets)', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'victim'), 'keep');
  writeFileSync(join(dir, '.state.json.0123456789abcdef.tmp'), 'half');
  symlinkSync(join(dir, 'victim'), join(dir, '.state.json.fedcba9876543210.tmp'));
  for (const other of ['.state.json.xyz.tmp', '.other.json.0123456789abcdef.tmp', 'state.json']) writeFileSync(join(dir, other), '');
  const removed = removeLeftoverTemps(dir, 'state.json').sort();
  assert.deepEqual(removed, ['.state.json.0123456789abcdef.tmp', '.state.json.fedcba9876543210.tmp']);
  assert.deepEqual(readdirSync(dir).sort(), ['.other.json.0123456789abcdef.tmp', '.state.json.xyz.tmp', 'state.json', 'victim']);
  assert.equal(readFileSync(join(dir, 'victim'), 'utf8'), 'keep');
});

test('refuseSymlinks names a planted link and ignores missing files', (t) => {
  const dir = tempDir(t);
  refuseSymlinks(dir, ['store.db', 'store.db-wal']);
  symlinkSync('/etc/passwd', join(dir, 'store.db-wal'));
  assert.throws(() => refuseSymlinks(dir, ['store.db', 'store.db-wal']), /store\.db-wal is a symbolic link/);
});
