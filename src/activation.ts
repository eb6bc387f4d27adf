/**
 * Socket activation, systemd's protocol (also what launchd-style wrappers
 * use): LISTEN_PID must be our pid and LISTEN_FDS ≥ 1; the first inherited
 * fd is 3. The variables are removed from `env` either way so children and
 * workers don't inherit them. "Not activated" is a normal result.
 */

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
