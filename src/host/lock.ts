/**
 * The single-instance lock: flock(LOCK_EX|LOCK_NB) on `<home>/daemon.lock`,
 * held for the life of the process. The kernel drops it when the process
 * dies, so a crash never leaves a stale lock. The holder's pid is written
 * into the file so a refused second daemon can name it. The file is opened
 * without following a symlink (SPEC §6 "Files"): a planted `daemon.lock`
 * link must not let us truncate its target.
 */
import { closeSync, constants, fchmodSync, ftruncateSync, readSync, writeSync } from 'node:fs';
import fsExt from 'fs-ext';
import { openRegular } from './files.js';

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
  const { fd, stats } = openRegular(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    fsExt.flockSync(fd, 'exnb');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    try {
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') throw new LockHeldError(path, holderPid(fd));
      throw err;
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
