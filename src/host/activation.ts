/**
 * Socket activation, systemd's protocol (also what launchd-style wrappers
 * use): LISTEN_PID must be our pid and LISTEN_FDS ≥ 1; the first inherited
 * fd is 3. The variables are removed from `env` either way so children and
 * workers don't inherit them. "Not activated" is a normal result.
 * `describeListenFd` checks that what we inherited is a listening unix
 * stream socket before anyone serves it.
 */
import { fstatSync, readFileSync } from 'node:fs';
import { kindOf } from './files.js';

import { LAUNCHD_SOCKET_NAME, type ActivateSocket } from './launchd.js';

/** The first inherited fd (SD_LISTEN_FDS_START). */
const LISTEN_FDS_START = 3;

export type Activation =
  | { readonly activated: true; readonly fd: number; readonly count: number }
  | { readonly activated: false; readonly reason: string | null };

/** Reads and clears LISTEN_PID / LISTEN_FDS / LISTEN_FDNAMES from `env`. */
export function takeActivation(env: NodeJS.ProcessEnv, pid: number): Activation {
  const rawPid = env.LISTEN_PID;
  const rawFds = env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (rawPid === undefined && rawFds === undefined) return { activated: false, reason: null };
  if (rawPid === undefined || rawFds === undefined) {
    return { activated: false, reason: 'LISTEN_PID and LISTEN_FDS must both be set' };
  }
  if (!/^\d+$/.test(rawPid.trim())) return { activated: false, reason: `LISTEN_PID is not a number: ${JSON.stringify(rawPid)}` };
  if (Number(rawPid) !== pid) return { activated: false, reason: `LISTEN_PID=${rawPid} is not this process (${pid})` };
  if (!/^\d+$/.test(rawFds.trim())) return { activated: false, reason: `LISTEN_FDS is not a number: ${JSON.stringify(rawFds)}` };
  const count = Number(rawFds);
  if (count < 1) return { activated: false, reason: 'LISTEN_FDS is 0' };
  return { activated: true, fd: LISTEN_FDS_START, count };
}

/**
 * launchd's protocol (macOS): ask for the plist's `Listeners` socket through
 * `activate` (launch_activate_socket, src/launchd.ts). Asked only when
 * LISTEN_* said nothing; not being launchd's job is "not activated", any
 * other failure is a reason to bind the path instead.
 */
export async function launchdActivation(activate: ActivateSocket, name = LAUNCHD_SOCKET_NAME): Promise<Activation> {
  let fds: readonly number[];
  try {
    fds = await activate(name);
  } catch (err) {
    return { activated: false, reason: `launchd: ${(err as Error).message}` };
  }
  const [fd] = fds;
  if (fd === undefined) return { activated: false, reason: null };
  return { activated: true, fd, count: fds.length };
}

/** Linux's /proc/net/unix flag for a listening socket (__SO_ACCEPTCON). */
const SO_ACCEPTCON = 0x10000;
const UNIX_TYPES: Record<string, string> = { '0001': 'stream', '0002': 'datagram', '0005': 'seqpacket' };

/** The inode column of /proc/net/<table> rows, or null if the table cannot be read. */
function procInodes(table: string, column: number): Set<number> | null {
  let text: string;
  try {
    text = readFileSync(`/proc/net/${table}`, 'utf8');
  } catch {
    return null;
  }
  const out = new Set<number>();
  for (const line of text.split('\n').slice(1)) {
    const field = line.trim().split(/\s+/)[column];
    if (field !== undefined) out.add(Number(field));
  }
  return out;
}

/**
 * Checks that an inherited `fd` is a listening unix stream socket; returns
 * null if it is, else what it is in words ("fd 3 is a TCP socket"). The
 * kind comes from fstat everywhere, the family and state from /proc/net on
 * Linux; elsewhere the server checks the family once it has adopted the fd.
 */
export function describeListenFd(fd: number): string | null {
  let st;
  try {
    st = fstatSync(fd);
  } catch (err) {
    return `fd ${fd} is not open (${(err as NodeJS.ErrnoException).code ?? 'fstat failed'})`;
  }
  if (!st.isSocket()) return `fd ${fd} is not a socket (it is ${kindOf(st)})`;
  if (process.platform !== 'linux') return null;
  const unix = readUnixRow(st.ino);
  if (unix === 'unavailable') return null;
  if (unix !== null) {
    const type = UNIX_TYPES[unix.type] ?? `type ${unix.type}`;
    if (type !== 'stream') return `fd ${fd} is a unix ${type} socket, not a stream socket`;
    if ((unix.flags & SO_ACCEPTCON) === 0) return `fd ${fd} is a unix stream socket that is not listening`;
    return null;
  }
  for (const [tables, name] of [
    [['tcp', 'tcp6'], 'a TCP socket'],
    [['udp', 'udp6'], 'a UDP socket'],
  ] as const) {
    if (tables.some((t) => procInodes(t, 9)?.has(st.ino))) return `fd ${fd} is ${name}, not a unix socket`;
  }
  // Not in this network namespace's tables (a supervisor in another one made it): the server checks the family.
  return null;
}

/** The /proc/net/unix row of socket inode `ino`: its flags, type and path ('' when unnamed or abstract). */
function readUnixRow(ino: number): { flags: number; type: string; path: string } | null | 'unavailable' {
  let text: string;
  try {
    text = readFileSync('/proc/net/unix', 'utf8');
  } catch {
    return 'unavailable';
  }
  // Num RefCount Protocol Flags Type St Inode [Path]
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[6] !== undefined && Number(f[6]) === ino) {
      const path = f[7] ?? '';
      return { flags: Number.parseInt(f[3] ?? '0', 16), type: f[4] ?? '', path: path.startsWith('@') ? '' : path };
    }
  }
  return null;
}

/**
 * The path of a listening unix socket we were handed as an fd, so `status`
 * can show what is really served. Node's pipe handles have no getsockname(),
 * so on Linux the fd's inode is looked up in /proc/net/unix; elsewhere (or
 * for an unnamed socket, or with /proc hidden) the answer is `fd:N`.
 */
export function activatedSocketName(fd: number): string {
  try {
    const row = readUnixRow(fstatSync(fd).ino);
    if (row !== null && row !== 'unavailable' && row.path !== '') return row.path;
  } catch {
    // the fd is gone: fall through
  }
  return `fd:${fd}`;
}
