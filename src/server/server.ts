/**
 * The unix-socket transport: accepts on a bound (or activated) listener,
 * enforces the connection limit, and hands each socket to a Connection.
 * The only module that touches net.Socket / net.Server; binding is
 * bind.ts's, the fd budget fd-budget.ts's, the socket-path checks
 * socketpath.ts's. Built listening by `Server.listen`.
 * Lifecycle: listening → closing → closed; close() is graceful, destroy()
 * immediate, both idempotent.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import { activatedSocketName } from '../host/activation.js';
import { Connection, type ConnectionLimits } from './connection.js';
import { boundData, ErrorCode } from '../contract/errors.js';
import { errorLine } from '../wire/response.js';
import type { Router } from './router.js';
import type { ConnectionsStatus } from '../lifecycle/status-reply.js';
import { within } from '../lifecycle/within.js';
import { once } from '../lifecycle/once.js';
import { bindListener, stillOurs, type BoundFile, type Listen } from './bind.js';
import { connectionLimit, fdBudget, type FdBudget } from './fd-budget.js';
import type { Transport } from './transport.js';

export { removeStaleSocket, removeStalePrivateNames, SocketInUseError } from './socketpath.js';

export interface ServerLimits extends ConnectionLimits {
  readonly maxConnections: number;
}

/** The pool's threads started now: each needs fds of its own, kept aside from clients. */
export type ThreadCount = () => number;

export interface ServerOptions {
  readonly where: Listen;
  readonly router: Router;
  readonly limits: ServerLimits;
  readonly log: Logger;
  readonly threads: ThreadCount;
}

export class Server implements Transport {
  readonly #router: Router;
  readonly #opts: ServerLimits;
  readonly #log: Logger;
  readonly #net: NetServer;
  readonly #conns = new Set<Connection>();
  #state: 'listening' | 'closing' | 'closed' = 'listening';
  readonly #listen: Listen;
  /** The socket file we bound; null for an activated fd, which is never ours to unlink. */
  readonly #bound: BoundFile | null;
  /** The fd limit and the fds open (no client yet) when listening began; null where the platform does not tell. */
  readonly #fds: FdBudget | null;
  readonly #threads: ThreadCount;
  #nextId = 0;
  #accepted = 0;
  #refused = 0;
  #acceptErrors = 0;
  /** Stops listening, once. The bound private name is already gone, so libuv's unlink-on-close touches nothing. */
  readonly #stopListening = once(() => new Promise<void>((resolve) => this.#net.close(() => resolve())));
  readonly #closing = once((drainMs: number) => this.#close(drainMs));
  /** A socket server serves until stopped: no client ends it. */
  readonly finished: Promise<void> = new Promise(() => {});
  #served: string | undefined;

  /** Binds the path (or adopts the activated fd) and resolves with a server accepting on it. */
  static async listen(opts: ServerOptions): Promise<Server> {
    const net = createServer({ allowHalfOpen: true, pauseOnConnect: false });
    const bound = await bindListener(net, opts.where);
    return new Server(net, bound, opts);
  }

  private constructor(net: NetServer, bound: BoundFile | null, { where, router, limits, log, threads }: ServerOptions) {
    this.#net = net;
    this.#bound = bound;
    this.#listen = where;
    this.#router = router;
    this.#opts = limits;
    this.#log = log;
    this.#threads = threads;
    net.on('connection', (s: Socket) => this.#accept(s));
    net.on('error', (err: NodeJS.ErrnoException) => this.#acceptFailed(err));
    this.#fds = fdBudget();
    this.#warnIfFdsLimit();
  }

  /**
   * Out of fds (EMFILE/ENFILE): libuv sheds the waiting connections with its
   * reserve fd (no busy loop) and mostly does not report it; when it does,
   * we log once per episode, not once per connection, and say when
   * accepting works again. The fd cap (#limit) keeps clients from
   * causing it in the first place.
   */
  #acceptFailed(err: NodeJS.ErrnoException): void {
    if (err.code === 'EMFILE' || err.code === 'ENFILE') {
      if (this.#acceptErrors++ === 0) this.#log.error({ err: err.code, fd_limit: this.#fds?.limit ?? null }, 'accept failing: out of file descriptors; shedding new connections');
      return;
    }
    this.#log.error({ err }, 'listener error');
  }

  /** Says at start if the fd limit holds connections below the option. */
  #warnIfFdsLimit(): void {
    if (this.#fds === null) return;
    const { max, reserve } = this.#limit();
    if (max >= this.#opts.maxConnections) return;
    this.#log.warn(
      { max_connections: this.#opts.maxConnections, effective: max, fd_limit: this.#fds.limit, fds_open: this.#fds.open, fd_reserve: reserve, threads: this.#threads() },
      'connection limit lowered to fit the fd limit',
    );
  }

  #limit(): { max: number; reserve: number } {
    return connectionLimit(this.#fds, this.#opts.maxConnections, this.#threads());
  }

  #accept(socket: Socket): void {
    if (this.#acceptErrors > 0) {
      this.#log.info({ failures: this.#acceptErrors }, 'accepting connections again');
      this.#acceptErrors = 0;
    }
    if (this.#state !== 'listening') {
      socket.destroy();
      return;
    }
    const { max } = this.#limit();
    if (this.#conns.size >= max) {
      this.#refused++;
      if (this.#refused === 1 || this.#refused % 1000 === 0) {
        this.#log.warn({ max_connections: max, refused: this.#refused }, 'connection refused: too many connections');
      }
      // One line, then close at once: a refused client must not hold an fd.
      // A fresh socket takes the short line synchronously, before the close.
      socket.on('error', () => {});
      const refusal = { code: ErrorCode.Overloaded, message: `too many connections (limit ${max})`, data: boundData('max_connections', max) };
      socket.write(`${errorLine(null, refusal)}\n`);
      socket.destroy();
      return;
    }
    this.#accepted++;
    const id = ++this.#nextId;
    const log = this.#log.child({ conn: id });
    const openedAt = performance.now();
    const onClose = (c: Connection): void => {
      this.#conns.delete(c);
      // At info only for a connection that carried JSON-RPC work: a `status` health check every
      // few seconds would otherwise write two lines each time (docs/protocol.md, "Logs").
      const level = c.foreground ? 'info' : 'debug';
      log[level]({ ms: Math.round(performance.now() - openedAt) }, 'connection closed');
    };
    const conn = new Connection({ input: socket, output: socket, router: this.#router, limits: this.#opts, log, onClose, endOutput: true });
    this.#conns.add(conn);
    log.debug('connection opened');
  }

  /** Open connections that have carried foreground work (SPEC §7). */
  get foregroundConnections(): number {
    let n = 0;
    for (const c of this.#conns) if (c.foreground) n++;
    return n;
  }

  /** Requests received on live connections and not yet answered. */
  get inFlight(): number {
    let n = 0;
    for (const c of this.#conns) n += c.inFlight;
    return n;
  }

  connections(): ConnectionsStatus {
    const { max, reserve } = this.#limit();
    return {
      active: this.#conns.size,
      foreground: this.foregroundConnections,
      accepted: this.#accepted,
      refused: this.#refused,
      max,
      max_configured: this.#opts.maxConnections,
      fd_limit: this.#fds?.limit ?? null,
      fd_reserve: this.#fds === null ? null : reserve,
    };
  }

  /**
   * Graceful stop: stop accepting, stop reading, wait (up to `drainMs`) for
   * every in-flight request to be answered, then end the connections.
   * Returns whether everything drained in time. A second call waits for
   * the first.
   */
  close(drainMs: number): Promise<boolean> {
    return this.#closing(drainMs);
  }

  async #close(drainMs: number): Promise<boolean> {
    if (this.#state === 'closed') return true;
    this.#state = 'closing';
    const stopped = this.#stopListening();
    for (const c of this.#conns) c.stopReading();
    const drained = await within(Promise.all([...this.#conns].map((c) => c.idle())), drainMs);
    for (const c of this.#conns) c.end();
    // Give peers a moment to read what was flushed, then cut the rest.
    await within(stopped, 1000);
    this.destroy();
    return drained;
  }

  /** Immediate stop. Idempotent. */
  destroy(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    void this.#stopListening();
    for (const c of this.#conns) c.destroy();
    this.#conns.clear();
  }

  /** The path this listener serves (an activated fd's own path where it can be found, else `fd:N`). */
  get served(): string {
    // Looked up once, by the first status (not on the start's path): status may be asked every few ms.
    this.#served ??= this.#listen.kind === 'path' ? this.#listen.path : activatedSocketName(this.#listen.fd);
    return this.#served;
  }

  /** Unlinks the socket path if it is still the socket we bound (never an activated one, never a successor's). */
  unlinkOwnPath(): void {
    if (this.#listen.kind !== 'path' || this.#bound === null) return;
    if (!stillOurs(this.#listen.path, this.#bound)) {
      this.#log.warn({ socket: this.#listen.path }, 'the socket path is no longer ours; leaving it alone');
      return;
    }
    try {
      unlinkSync(this.#listen.path);
    } catch {
      // already gone
    }
  }
}
