/**
 * What the daemon serves clients on: the unix-socket server or one stdio
 * session, behind one shape, so the daemon's start and stop sequences have
 * no branch per transport. `openTransport` picks and opens it ready; the
 * transports themselves are server.ts and stdio.ts.
 */
import type { Logger } from 'pino';
import type { Readable, Writable } from 'node:stream';
import type { Config } from '../config.js';
import type { Activation } from '../host/activation.js';
import type { ConnectionsStatus, StdioConnectionsStatus } from '../lifecycle/status-reply.js';
import type { Router } from './router.js';
import { Server, removeStalePrivateNames, removeStaleSocket, type ThreadCount } from './server.js';
import type { Listen } from './bind.js';
import { StdioTransport } from './stdio.js';
import { VERSION } from '../version.js';

/** An open transport. Lifecycle: serving → closing → closed; `close()` and `destroy()` are idempotent. */
export interface Transport {
  /**
   * Graceful stop, steps 1–3 of the daemon's stop: stop accepting and
   * reading, wait up to `drainMs` for every request received to be
   * answered, end the conversations. True if everything was answered in time.
   */
  close(drainMs: number): Promise<boolean>;
  /** Immediate stop: drop every conversation now. */
  destroy(): void;
  /** Requests received and not yet answered. */
  readonly inFlight: number;
  /** Open conversations that have carried foreground work (SPEC §7). */
  readonly foregroundConnections: number;
  /** The `connections` part of `status`. */
  connections(): ConnectionsStatus | StdioConnectionsStatus;
  /** The socket path served (status shows it as `config.socket`); null where no socket is served. */
  readonly served: string | null;
  /** Settles when the client ends the session and everything is answered (stdio); a socket server has no such end. */
  readonly finished: Promise<void>;
  /** Step 8 of the stop: unlinks the socket file if it is still the one we bound; nothing for a transport without one. */
  unlinkOwnPath(): void;
}

export interface TransportOptions {
  readonly config: Config;
  readonly activation: Activation;
  readonly router: Router;
  readonly log: Logger;
  /** The pool's threads started now (the socket server keeps their fds aside from clients). */
  readonly threads: ThreadCount;
  /** stdio's streams (default process.stdin / process.stdout). */
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout?: NodeJS.WritableStream;
}

/** Opens the transport the config asks for: stdio, an activated fd, or the socket path (after the stale-socket check). */
export async function openTransport(opts: TransportOptions): Promise<Transport> {
  const { config, activation, router, log } = opts;
  if (config.stdio) {
    const input = (opts.stdin ?? process.stdin) as Readable;
    const output = (opts.stdout ?? process.stdout) as Writable;
    const stdio = new StdioTransport({ input, output, router, limits: config, log: log.child({ conn: 'stdio' }) });
    log.info({ transport: 'stdio', threads: config.threads, version: VERSION }, 'serving on stdio');
    return stdio;
  }
  let where: Listen;
  if (activation.activated) {
    where = { kind: 'fd', fd: activation.fd };
  } else {
    if (activation.reason !== null) log.warn({ reason: activation.reason }, 'ignoring socket activation; binding the path');
    if (await removeStaleSocket(config.socket)) log.warn({ socket: config.socket }, 'removed a stale socket file');
    const leftovers = await removeStalePrivateNames(config.socket);
    if (leftovers.length > 0) log.warn({ removed: leftovers }, 'removed bind names an interrupted start left behind');
    where = { kind: 'path', path: config.socket };
  }
  const server = await Server.listen({ where, router, limits: config, log, threads: opts.threads });
  log.info(
    { socket: where.kind === 'path' ? where.path : `fd:${where.fd}`, activated: activation.activated, threads: config.threads, version: VERSION },
    'listening',
  );
  return server;
}
