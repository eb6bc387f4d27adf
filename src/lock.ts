/**
 * The single-instance lock: flock(LOCK_EX|LOCK_NB) on `<home>/daemon.lock`,
 * held for the life of the process. The kernel drops it when the process
 * dies, so a crash never leaves a stale lock. The holder's pid is written
 * into the file so a refused second daemon can name it.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import fsExt from 'fs-ext';

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

/** Takes the lock or throws LockHeldError at once (never waits). */
export function acquireLock(path: string): HeldLock {
  const fd = openSync(path, 'a+', 0o600);
  try {
    fsExt.flockSync(fd, 'exnb');
  } catch (err) {
    closeSync(fd);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
      const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      throw new LockHeldError(path, Number.isFinite(pid) ? pid : null);
    }
    throw err;
  }
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
