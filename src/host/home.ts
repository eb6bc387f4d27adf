/**
 * The home directory check (SPEC §4, §6 "Files"), the way OpenSSH's
 * StrictModes treats ~/.ssh: the home is created 0700; an existing one must
 * be owned by the daemon's user and not writable by group or others, and so
 * must every directory above it (root-owned, or sticky like /tmp, is fine) —
 * otherwise someone else could plant or swap files the daemon writes.
 * Changes nothing but a home it just created.
 */
import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** The home (or a directory above it) is not safe to use. */
export class HomeError extends Error {
  override get name(): string {
    return 'HomeError';
  }
}

/** S_ISVTX (not in fs.constants). */
const STICKY = 0o1000;

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/** Creates `home` 0700 if missing, then refuses (HomeError) a home others could write into. */
export function prepareHome(home: string, uid: number = process.geteuid?.() ?? 0): void {
  const created = mkdirSync(home, { recursive: true, mode: 0o700 }) !== undefined;
  const fd = openSync(home, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    // Our own fresh directory: set the mode on the fd (umask may have narrowed it).
    if (created) fchmodSync(fd, 0o700);
    const st = fstatSync(fd);
    if (st.uid !== uid) {
      throw new HomeError(`home ${home} is owned by uid ${st.uid}, not by this user (uid ${uid}); refusing to use it`);
    }
    if ((st.mode & 0o022) !== 0) {
      throw new HomeError(`home ${home} is writable by group or others (mode ${octal(st.mode)}); run: chmod 700 ${home}`);
    }
  } finally {
    closeSync(fd);
  }
  checkParents(realpathSync(home), uid);
}

/** Every directory above the home: owned by root or us, and not writable by others unless sticky. */
function checkParents(real: string, uid: number): void {
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const st = statSync(dir);
    if (st.uid !== 0 && st.uid !== uid) {
      throw new HomeError(`${dir} (above home ${real}) is owned by uid ${st.uid}, neither root nor this user (uid ${uid}); refusing to use the home`);
    }
    if ((st.mode & 0o022) !== 0 && (st.mode & STICKY) === 0) {
      throw new HomeError(`${dir} (above home ${real}) is writable by group or others without the sticky bit (mode ${octal(st.mode)}); refusing to use the home`);
    }
    if (dir === dirname(dir)) return;
  }
}
