/**
 * Readiness for systemd's `Type=notify`: READY=1 once the socket is served,
 * STOPPING=1 when a graceful stop begins. Node cannot send on a unix
 * datagram socket, so the message goes through systemd's own
 * `systemd-notify`, spawned once per message. It is a child process, so the
 * unit needs `NotifyAccess=all`; systemd-notify waits (sd_notify_barrier)
 * until the manager has read the message, so it never races its own exit.
 * Without NOTIFY_SOCKET nothing is sent and nothing is spawned.
 */
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';

export interface Notifier {
  /** The socket is served: the unit counts as started. */
  ready(): void;
  /** A graceful stop began. */
  stopping(): void;
}

const SILENT: Notifier = { ready() {}, stopping() {} };

/**
 * Reads and clears NOTIFY_SOCKET from `env` (so workers and a dispatch
 * module's children cannot signal on the daemon's behalf) and returns a
 * notifier for it — a silent one when it is unset.
 */
export function takeNotifier(env: NodeJS.ProcessEnv, log: Logger): Notifier {
  const socket = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return SILENT;
  const send = (args: string[]): void => {
    const child = spawn('systemd-notify', args, { env: { PATH: env.PATH ?? '/usr/bin:/bin', NOTIFY_SOCKET: socket }, stdio: 'ignore' });
    child.once('error', (err) => log.warn({ err, notify: args.join(' ') }, 'could not run systemd-notify; the service manager was not told'));
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) log.warn({ code, notify: args.join(' ') }, 'systemd-notify failed');
    });
    // Never keep a stopping daemon alive for its notification.
    child.unref();
  };
  return {
    ready: () => send(['--ready']),
    stopping: () => send(['STOPPING=1']),
  };
}
