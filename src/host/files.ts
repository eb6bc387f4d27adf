/**
 * Safe file primitives for the daemon's home (SPEC §6 "Files"): nothing is
 * opened through a symlink, temp files are created exclusively under
 * unpredictable names, modes are set on the open fd (never chmod by path),
 * replacement is atomic, and a read opens only a regular file — a FIFO must
 * not hang the start. Knows nothing about what the files hold.
 */
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, readFileSync, readdirSync, unlinkSync, type Stats } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crypto } from './builtins.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;

/** A path that names something other than a regular file (or a symlink). */
export class FileKindError extends Error {
  readonly path: string;
  constructor(path: string, what: string) {
    super(`${path} is ${what}; refusing to use it`);
    this.path = path;
  }
  override get name(): string {
    return 'FileKindError';
  }
}

/** What a stat result is, in words ("a FIFO"). */
export function kindOf(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** Translates the errno an O_NOFOLLOW|O_NONBLOCK open gives for a non-file into words, or null. */
function kindFromErrno(code: string | undefined): string | null {
  if (code === 'ELOOP' || code === 'EMLINK') return 'a symbolic link'; // EMLINK: FreeBSD's O_NOFOLLOW
  if (code === 'ENXIO' || code === 'EOPNOTSUPP') return 'a socket';
  if (code === 'EISDIR') return 'a directory';
  return null;
}

/**
 * Opens a regular file without following a symlink and without blocking on
 * a FIFO; `flags` may add O_RDWR, O_CREAT… Throws FileKindError for anything
 * that is not a regular file (the fd is closed first).
 */
export function openRegular(path: string, flags: number, mode = 0o600): { fd: number; stats: Stats } {
  let fd: number;
  try {
    fd = openSyncNoFollow(path, flags, mode);
  } catch (err) {
    const what = kindFromErrno((err as NodeJS.ErrnoException).code);
    if (what !== null) throw new FileKindError(path, what);
    throw err;
  }
  const stats = fstatSync(fd);
  if (!stats.isFile()) {
    closeSync(fd);
    throw new FileKindError(path, kindOf(stats));
  }
  return { fd, stats };
}

function openSyncNoFollow(path: string, flags: number, mode: number): number {
  return openSync(path, flags | O_NOFOLLOW | O_NONBLOCK, mode);
}

export type ReadResult =
  | { readonly kind: 'missing' }
  | { readonly kind: 'ok'; readonly text: string }
  | { readonly kind: 'unreadable'; readonly reason: string };

/**
 * Reads a regular file as UTF-8. A missing file is `missing`; a symlink, a
 * FIFO, a device, a directory or a file over `maxBytes` is `unreadable`
 * (the caller decides what to do with it). Other errors (EACCES, EMFILE) throw.
 */
export function readRegularFile(path: string, maxBytes: number): ReadResult {
  let opened: { fd: number; stats: Stats };
  try {
    opened = openRegular(path, O_RDONLY);
  } catch (err) {
    if (err instanceof FileKindError) return { kind: 'unreadable', reason: err.message };
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  const { fd, stats } = opened;
  try {
    if (stats.size > maxBytes) return { kind: 'unreadable', reason: `${path} is ${stats.size} bytes, over ${maxBytes}` };
    const buf = readFileSync(fd);
    const text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return { kind: 'ok', text };
  } catch (err) {
    if (err instanceof TypeError) return { kind: 'unreadable', reason: `${path} is not valid UTF-8` };
    throw err;
  } finally {
    closeSync(fd);
  }
}

/** Temp names: `.<base>.<16 hex>.tmp` next to the target — unpredictable, so nobody can plant one ahead. */
function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${crypto().randomBytes(8).toString('hex')}.tmp`);
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Matches the temp names `writeFileAtomic` makes for `base`. */
function tempPattern(base: string): RegExp {
  return new RegExp(`^\\.${escapeRe(base)}\\.[0-9a-f]{16}\\.tmp$`);
}

/** Makes sure the directory entry of a rename is on disk. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, O_RDONLY | O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `path` atomically with `text`: an exclusive (O_EXCL|O_NOFOLLOW)
 * temp file in the same directory, fchmod to `mode`, fsync, rename, fsync of
 * the directory. A symlink at `path` is replaced, never followed. Throws,
 * leaving `path` untouched and no temp file behind, on failure.
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const tmp = tempPath(path);
  const fh = await open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    try {
      await fh.writeFile(text, 'utf8');
      await fh.chmod(mode); // fchmod: umask may have narrowed it, and it is ours (O_EXCL)
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dirname(path));
}

/**
 * Removes the temp files a killed `writeFileAtomic(<dir>/<base>)` left
 * behind (unlink never follows a link). Returns the names removed.
 */
export function removeLeftoverTemps(dir: string, base: string): string[] {
  const re = tempPattern(base);
  const removed: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!re.test(entry.name) || entry.isDirectory()) continue;
    try {
      unlinkSync(join(dir, entry.name));
      removed.push(entry.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}

/**
 * Throws FileKindError if any of `names` in `dir` is a symlink — for files a
 * library opens by path (SQLite), where we cannot pass O_NOFOLLOW ourselves.
 */
export function refuseSymlinks(dir: string, names: readonly string[]): void {
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (lstatSync(path).isSymbolicLink()) throw new FileKindError(path, 'a symbolic link');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * Makes `path` a private file: creates it empty with mode 0600 if it does
 * not exist (O_EXCL, no symlink followed), or takes group and other access
 * off one another program created first (on the open descriptor, never by
 * path). Call it only while no SQLite connection to the file is open in this
 * process: closing any descriptor of a file drops all of this process's
 * locks on it, SQLite's included.
 */
export function createPrivate(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileKindError(path, 'not a regular file');
    if ((st.mode & 0o077) !== 0) fchmodSync(fd, st.mode & 0o700);
  } finally {
    closeSync(fd);
  }
}
