/**
 * Socket activation, systemd's protocol (also what launchd-style wrappers
 * use): LISTEN_PID must be our pid and LISTEN_FDS ≥ 1; the first inherited
 * fd is 3. The variables are removed from `env` either way so children and
 * workers don't inherit them. "Not activated" is a normal result.
 */

import { LAUNCHD_SOCKET_NAME, type ActivateSocket } from './launchd.js';

/** The first inherited fd (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

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
