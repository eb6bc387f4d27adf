/**
 * launchd socket activation. launchd owns the sockets named in the plist's
 * `Sockets` dictionary, starts the job on the first connection, and hands
 * the listening fds over only through launch_activate_socket(3) — there is
 * no LISTEN_FDS. Node has no binding for it, so it is called through koffi
 * (./koffi.ts), bound only on darwin.
 */
import { constants } from 'node:os';
import { koffi } from './koffi.js';

/** Asks the service manager for the fds of the socket entry `name`; [] when not managed by it. */
export type ActivateSocket = (name: string) => Promise<readonly number[]>;

/** The plist's `Sockets` key dispatchd asks for. */
export const LAUNCHD_SOCKET_NAME = 'Listeners';

/** launch_activate_socket failed for a reason other than "not launchd's job". */
export class LaunchdError extends Error {
  override get name(): string {
    return 'LaunchdError';
  }
}

/**
 * Binds launch_activate_socket from `library` (libSystem on macOS; tests
 * pass a stand-in library exporting the same symbol) and free(3).
 */
export async function bindActivateSocket(library: string): Promise<ActivateSocket> {
  const ffi = koffi();
  const lib = ffi.load(library);
  const activate = lib.func('int launch_activate_socket(const char *name, _Out_ int **fds, _Out_ size_t *cnt)');
  const free = lib.func('void free(void *ptr)');
  return async (name) => {
    const fds: unknown[] = [null];
    const count: unknown[] = [0];
    const rc = activate(name, fds, count) as number;
    // ESRCH: not started by launchd; ENOENT: no such entry in Sockets.
    if (rc === constants.errno.ESRCH || rc === constants.errno.ENOENT) return [];
    if (rc !== 0) throw new LaunchdError(`launch_activate_socket("${name}") failed: errno ${rc}`);
    try {
      return ffi.decode(fds[0], 'int', Number(count[0])) as number[];
    } finally {
      free(fds[0]);
    }
  };
}

/** The platform's activation function: launchd's on macOS, none elsewhere. */
export function platformActivateSocket(platform: NodeJS.Platform = process.platform): ActivateSocket | null {
  if (platform !== 'darwin') return null;
  let bound: Promise<ActivateSocket> | undefined;
  return async (name) => {
    bound ??= bindActivateSocket('/usr/lib/libSystem.B.dylib');
    return (await bound)(name);
  };
}
