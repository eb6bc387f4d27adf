/**
 * The single-instance lock: flock(LOCK_EX|LOCK_NB) on `<home>/daemon.lock`,
 * held for the life of the process. The kernel drops it when the process
 * dies, so a crash never leaves a stale lock. The holder's pid is written
 * into the file so a refused second daemon can name it. The file is opened
 * without following a symlink (SPEC §6 "Files"): a planted `daemon.lock`
 * link must not let us truncate its target.
 *
 * Node has no flock, so libc's is called through koffi (./koffi.ts), bound
 * on the first lock. Where koffi cannot load (no binary for this platform),
 * the start fails with LockUnavailableError naming why: a daemon that cannot
 * exclude a second one must not run.
 */
import { closeSync, constants, fchmodSync, ftruncateSync, readSync, writeSync } from 'node:fs';
import { constants as os } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { openRegular } from './files.js';
import { koffi, libc, type CFunction } from './koffi.js';

/** flock(2) operations; the same values on Linux and macOS. */
const LOCK_EX = 2;
const LOCK_NB = 4;

type Flock = (fd: number, op: number) => number;
let flock: Flock | undefined;

/** libc's flock, bound once. */
function bindFlock(): Flock {
  if (flock !== undefined) return flock;
  let call: CFunction;
  try {
    call = libc('int flock(int fd, int operation)');
  } catch (err) {
    throw new LockUnavailableError((err as Error).message);
  }
  flock = (fd, op) => (call(fd, op) === 0 ? 0 : koffi().errno());
  return flock;
}

/** The lock cannot be taken at all on this machine (not: someone else holds it). */
export class LockUnavailableError extends Error {
  constructor(why: string) {
    super(`cannot lock daemon.lock: ${why}; reinstall dispatchd so that its dependency koffi installs a binary for this platform`);
  }
  override get name(): string {
    return 'LockUnavailableError';
  }
}

/** Another process holds the lock. */
export class LockHeldError extends Error {
  readonly pid: number | null;
  constructor(path: string, pid: number | null) {
    super(`another dispatchd is already running on this home (${pid === null ? 'pid unknown' : `pid ${pid}`}; lock ${path})`);
    this.pid = pid;
  }
  override get name(): string {
    return 'LockHeldError';
  }
}

export interface HeldLock {
  readonly path: string;
  release(): void;
}

/** The pid the holder wrote, read through our own fd (never by path again). */
function holderPid(fd: number): number | null {
  const buf = Buffer.alloc(32);
  const n = readSync(fd, buf, 0, buf.length, 0);
  const pid = Number.parseInt(buf.subarray(0, n).toString('utf8').trim(), 10);
  return Number.isFinite(pid) ? pid : null;
}

/** Takes the lock or throws LockHeldError at once (never waits); FileKindError if it is not a regular file. */
export function acquireLock(path: string): HeldLock {
  const lock = bindFlock();
  const { fd, stats } = openRegular(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  // EINTR: a signal arrived before the (non-blocking) call could finish; ask again.
  let errno = lock(fd, LOCK_EX | LOCK_NB);
  while (errno === os.errno.EINTR) errno = lock(fd, LOCK_EX | LOCK_NB);
  if (errno !== 0) {
    try {
      if (errno === os.errno.EWOULDBLOCK || errno === os.errno.EAGAIN) throw new LockHeldError(path, holderPid(fd));
      throw new Error(`flock(${path}) failed: ${getSystemErrorName(-errno)}`);
    } finally {
      closeSync(fd);
    }
  }
  if ((stats.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      try {
        ftruncateSync(fd, 0);
      } finally {
        closeSync(fd); // closing the fd drops the flock
      }
    },
  };
}
