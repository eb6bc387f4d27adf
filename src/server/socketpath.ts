/**
 * The socket file on disk (SPEC §4, §6 "Files"): whether a file at the path
 * is stale (only ECONNREFUSED says so), and the private name a listener is
 * bound under before it is linked into place. Touches no listener.
 */
import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { SUN_PATH_BYTES } from '../config.js';
import { crypto } from '../host/builtins.js';

/** Something already answers on the socket path, or we cannot tell that nothing does. */
export class SocketInUseError extends Error {
  override get name(): string {
    return 'SocketInUseError';
  }
}

/**
 * Connects to `path` to learn whether a socket file is stale: only
 * ECONNREFUSED (nobody listening) is. ENOENT means it vanished meanwhile.
 * Anything else — a listener, EAGAIN from a full backlog (a stopped
 * daemon), EACCES, no answer in time — means someone may own it.
 */
function probe(path: string, timeoutMs = 1000): Promise<'stale' | 'gone' | string> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const done = (v: string): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(`did not answer a connect within ${timeoutMs} ms`), timeoutMs);
    s.once('connect', () => done('is in use by another process'));
    s.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done('stale');
      else if (err.code === 'ENOENT') done('gone');
      else done(`could not be probed (connect failed with ${err.code ?? err.message}), so another process may own it`);
    });
  });
}

/**
 * Removes a stale socket file at `path`. Call only while holding the lock.
 * Only a socket that refuses connections is removed; anything else at the
 * path makes this throw SocketInUseError, naming why.
 */
export async function removeStaleSocket(path: string): Promise<boolean> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (!st.isSocket()) throw new SocketInUseError(`${path} exists and is not a socket; refusing to remove it`);
  const found = await probe(path);
  if (found === 'gone') return false;
  if (found !== 'stale') throw new SocketInUseError(`${path} ${found}; refusing to start`);
  unlinkSync(path);
  return true;
}

/**
 * The start of every private name for `path`: `.dd-` and a short hash of its
 * file name, so a start can find what a crash between bind and link left
 * behind for its own socket, and only that.
 */
export function privatePrefix(path: string): string {
  return `.dd-${crypto().createHash('sha256').update(basename(path)).digest('hex').slice(0, 8)}-`;
}

/** A random name for binding in `path`'s directory, or null if sun_path has no room for one. */
export function privateName(path: string): string | null {
  const dir = dirname(path);
  const prefix = privatePrefix(path);
  const room = SUN_PATH_BYTES - 1 - Buffer.byteLength(dir) - 1 - prefix.length;
  if (room < 8) return null;
  return `${dir}/${prefix}${crypto().randomBytes(8).toString('hex').slice(0, Math.min(16, room))}`;
}

/**
 * Removes the private names for `path` that a crash between bind and link
 * left behind: stale sockets only (the same probe as the path itself); a
 * name someone still listens on, or that is not a socket, stays. Call only
 * while holding the lock — which covers one home: two homes configured with
 * the same --socket contend for it anyway, and one of them fails to start.
 * Returns what it removed.
 */
export async function removeStalePrivateNames(path: string): Promise<string[]> {
  const dir = dirname(path);
  const prefix = privatePrefix(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const leftover = join(dir, name);
    try {
      if (await removeStaleSocket(leftover)) removed.push(leftover);
    } catch {
      // in use, or not a socket: not ours to touch
    }
  }
  return removed;
}
