/**
 * Putting a listener on the socket path, or on an inherited (activated) fd:
 * the private-name-and-link dance for a path, the checks for an fd. Owns no
 * connection and no lifecycle; a listener that fails here is closed here.
 */
import type { Server as NetServer } from 'node:net';
import { linkSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeListenFd } from '../host/activation.js';
import { privateName, SocketInUseError } from './socketpath.js';

export type Listen = { readonly kind: 'path'; readonly path: string } | { readonly kind: 'fd'; readonly fd: number };

/** The socket file we bound (device + inode), so we never unlink a successor's. */
export interface BoundFile {
  readonly dev: number;
  readonly ino: number;
}

/** An inherited fd that is not a listening unix stream socket. */
export class ActivationError extends Error {
  override get name(): string {
    return 'ActivationError';
  }
}

/**
 * Binds the path (parent 0700, socket 0600 by umask) and returns the file
 * bound, or adopts an inherited fd (null: no file of ours). On failure the
 * listener is closed and the error thrown.
 */
export async function bindListener(net: NetServer, where: Listen): Promise<BoundFile | null> {
  if (where.kind === 'path') {
    mkdirSync(dirname(where.path), { recursive: true, mode: 0o700 });
    return bindPath(net, where.path);
  }
  const problem = describeListenFd(where.fd);
  if (problem !== null) throw new ActivationError(`socket activation: ${problem}`);
  await netListen(net, { fd: where.fd });
  // Where /proc could not tell: a TCP fd is adopted as TCP and has an address object (a pipe has none).
  const address = net.address();
  if (address !== null && typeof address === 'object') {
    net.close();
    throw new ActivationError(`socket activation: fd ${where.fd} is a TCP socket, not a unix socket`);
  }
  return null;
}

/**
 * libuv unlinks the path a listener was bound to when it closes, whoever's
 * socket sits there by then. So we bind a private random name next to the
 * target, hard-link it into place (link fails if the path was taken
 * meanwhile: nothing is clobbered) and drop the private name: the close
 * then unlinks nothing, and stop unlinks the path only if it is still our
 * inode. When the directory leaves no room in sun_path for a private name,
 * we bind the path itself.
 */
async function bindPath(net: NetServer, path: string): Promise<BoundFile> {
  const tmp = privateName(path);
  // umask makes the socket 0600 from birth: no chmod by path afterwards.
  const old = process.umask(0o177);
  try {
    await netListen(net, tmp ?? path);
  } finally {
    process.umask(old);
  }
  const st = lstatSync(tmp ?? path);
  const bound = { dev: st.dev, ino: st.ino };
  if (tmp === null) return bound;
  try {
    linkSync(tmp, path);
  } catch (err) {
    net.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw code === 'EEXIST' ? new SocketInUseError(`${path} was created by another process while we started; refusing to start`) : err;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // the close already unlinked it
    }
  }
  return bound;
}

function netListen(net: NetServer, target: string | { fd: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(target, () => {
      net.off('error', reject);
      resolve();
    });
  });
}

/** True while the socket file at `path` is still the one we bound. */
export function stillOurs(path: string, bound: BoundFile): boolean {
  try {
    const st = lstatSync(path);
    return st.isSocket() && st.dev === bound.dev && st.ino === bound.ino;
  } catch {
    return false;
  }
}
