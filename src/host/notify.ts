/**
 * Readiness for systemd's `Type=notify`: READY=1 once the socket is served,
 * STOPPING=1 when a graceful stop begins. Node cannot send on a unix
 * datagram socket, so the message goes through systemd's own
 * `systemd-notify`, spawned once per message. It is a child process, so the
 * unit needs `NotifyAccess=all`; systemd-notify waits (sd_notify_barrier)
 * until the manager has read the message, so it never races its own exit.
 * Without NOTIFY_SOCKET nothing is sent and nothing is spawned.
 */
import type { Logger } from 'pino';

export interface Notifier {
  /** The socket is served: the unit counts as started. */
  ready(): void;
  /** A graceful stop began. */
  stopping(): void;
}

const SILENT: Notifier = { ready() {}, stopping() {} };

/** Where readiness goes: systemd's socket, and the PATH to find systemd-notify on. */
export interface NotifyTarget {
  readonly socket: string;
  readonly path: string;
}

/**
 * Reads and clears NOTIFY_SOCKET from `env`, so workers and a dispatch
 * module's children cannot signal on the daemon's behalf: called with the
 * claim, before any thread exists to inherit it. Null when it is unset.
 */
export function takeNotifySocket(env: NodeJS.ProcessEnv): NotifyTarget | null {
  const socket = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return null;
  return { socket, path: env.PATH ?? '/usr/bin:/bin' };
}

/** A notifier for `target` — a silent one without. */
export function notifierFor(target: NotifyTarget | null, log: Logger): Notifier {
  if (target === null) return SILENT;
  // Loaded on the first message only: most starts are not under systemd, and none should pay for it before serving.
  let childProcess: Promise<typeof import('node:child_process')> | undefined;
  const send = (args: string[]): void => {
    childProcess ??= import('node:child_process');
    void childProcess.then(({ spawn }) => {
      const child = spawn('systemd-notify', args, { env: { PATH: target.path, NOTIFY_SOCKET: target.socket }, stdio: 'ignore' });
      child.once('error', (err) => log.warn({ err, notify: args.join(' ') }, 'could not run systemd-notify; the service manager was not told'));
      child.once('exit', (code) => {
        if (code !== 0 && code !== null) log.warn({ code, notify: args.join(' ') }, 'systemd-notify failed');
      });
      // Never keep a stopping daemon alive for its notification.
      child.unref();
    });
  };
  return {
    ready: () => send(['--ready']),
    stopping: () => send(['STOPPING=1']),
  };
}
