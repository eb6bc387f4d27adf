/**
 * The unix-socket transport: binds (or adopts an activated fd), accepts,
 * enforces the connection limit, and hands each socket to a Connection.
 * The only module that touches net.Socket / net.Server.
 * Lifecycle: listening → closing → closed; close() is graceful, destroy()
 * immediate, both idempotent.
 *
 * Why one file past ~300 lines: binding, adopting an activated fd, the
 * accept loop with its fd budget and the two stops share the listener's
 * state and its one lifecycle; the socket-path checks are socketpath.ts's.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { activatedSocketName, describeListenFd } from '../host/activation.js';
import { Connection, type ConnectionLimits } from './connection.js';
import { boundData, ErrorCode } from '../contract/errors.js';
import { errorLine } from '../wire/response.js';
import type { Router } from './router.js';
import { privateName, SocketInUseError } from './socketpath.js';
import type { ConnectionsStatus } from '../lifecycle/status-reply.js';
import { within } from '../lifecycle/within.js';

export { removeStaleSocket, removeStalePrivateNames, SocketInUseError } from './socketpath.js';

export type Listen = { readonly kind: 'path'; readonly path: string } | { readonly kind: 'fd'; readonly fd: number };

export interface ServerOptions extends ConnectionLimits {
  readonly maxConnections: number;
}

/** The pool's threads started now: each needs fds of its own, kept aside from clients. */
export type ThreadCount = () => number;

/** An inherited fd that is not a listening unix stream socket. */
export class ActivationError extends Error {
  override get name(): string {
    return 'ActivationError';
  }
}

/** Fds the daemon keeps for itself (state writes, the lock, replaced workers, a refused client's moment). */
const FD_RESERVE = 64;
/**
 * And per worker thread started: the thread's own (about 4) and a store's
 * database, WAL and shm — for each thread running, plus the next one, so a
 * thread can always start. Threads start on demand and retire when idle,
 * so the limit is recomputed at each accept from the threads running then.
 */
const FDS_PER_THREAD = 7;

/** The soft RLIMIT_NOFILE and the fds open now, where the platform shows them (Linux /proc). */
function fdBudget(): { limit: number; open: number } | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m === null || m[1] === 'unlimited') return null;
    return { limit: Number(m[1]), open: readdirSync('/proc/self/fd').length };
  } catch {
    return null;
  }
}

export class Server {
  readonly #router: Router;
  readonly #opts: ServerOptions;
  readonly #log: Logger;
  readonly #net: NetServer;
  readonly #conns = new Set<Connection>();
  #state: 'idle' | 'listening' | 'closing' | 'closed' = 'idle';
  #listen: Listen | null = null;
  /** The socket file we bound (device + inode), so we never unlink a successor's. */
  #bound: { readonly dev: number; readonly ino: number } | null = null;
  #listenerClosed = false;
  /** The fd limit and the fds open (no client yet) when listening began; null where the platform does not tell. */
  #fds: { readonly limit: number; readonly open: number } | null = null;
  readonly #threads: ThreadCount;
  #nextId = 0;
  #accepted = 0;
  #refused = 0;
  #served: string | undefined;
  #acceptErrors = 0;
  #closing: Promise<boolean> | null = null;

  constructor(router: Router, opts: ServerOptions, log: Logger, threads: ThreadCount) {
    this.#router = router;
    this.#opts = opts;
    this.#log = log;
    this.#threads = threads;
    this.#net = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (s) => this.#accept(s));
    this.#net.on('error', (err: NodeJS.ErrnoException) => this.#acceptFailed(err));
  }

  /**
   * Out of fds (EMFILE/ENFILE): libuv sheds the waiting connections with its
   * reserve fd (no busy loop) and mostly does not report it; when it does,
   * we log once per episode, not once per connection, and say when
   * accepting works again. The fd cap (#limitToFds) keeps clients from
   * causing it in the first place.
   */
  #acceptFailed(err: NodeJS.ErrnoException): void {
    if (err.code === 'EMFILE' || err.code === 'ENFILE') {
      if (this.#acceptErrors++ === 0) this.#log.error({ err: err.code, fd_limit: this.#fds?.limit ?? null }, 'accept failing: out of file descriptors; shedding new connections');
      return;
    }
    this.#log.error({ err }, 'listener error');
  }

  /** Binds the path (parent 0700, socket 0600 by umask) or adopts an inherited fd. */
  async listen(where: Listen): Promise<void> {
    this.#listen = where;
    if (where.kind === 'path') {
      mkdirSync(dirname(where.path), { recursive: true, mode: 0o700 });
      await this.#bindPath(where.path);
    } else {
      const problem = describeListenFd(where.fd);
      if (problem !== null) throw new ActivationError(`socket activation: ${problem}`);
      await this.#netListen({ fd: where.fd });
      // Where /proc could not tell: a TCP fd is adopted as TCP and has an address object (a pipe has none).
      const address = this.#net.address();
      if (address !== null && typeof address === 'object') {
        this.destroy();
        throw new ActivationError(`socket activation: fd ${where.fd} is a TCP socket, not a unix socket`);
      }
    }
    this.#limitToFds();
    this.#state = 'listening';
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
  async #bindPath(path: string): Promise<void> {
    const tmp = privateName(path);
    // umask makes the socket 0600 from birth: no chmod by path afterwards.
    const old = process.umask(0o177);
    try {
      await this.#netListen(tmp ?? path);
    } finally {
      process.umask(old);
    }
    const st = lstatSync(tmp ?? path);
    this.#bound = { dev: st.dev, ino: st.ino };
    if (tmp === null) return;
    try {
      linkSync(tmp, path);
    } catch (err) {
      this.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      throw code === 'EEXIST' ? new SocketInUseError(`${path} was created by another process while we started; refusing to start`) : err;
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // destroy() already closed it, and libuv unlinked it
      }
    }
  }

  #netListen(target: string | { fd: number }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#net.once('error', reject);
      this.#net.listen(target, () => {
        this.#net.off('error', reject);
        resolve();
      });
    });
  }

  /** Reads the fd limit once, and says at start if it holds connections below the option. */
  #limitToFds(): void {
    this.#fds = fdBudget();
    if (this.#fds === null) return;
    const { max, reserve } = this.#limit();
    if (max >= this.#opts.maxConnections) return;
    this.#log.warn(
      { max_connections: this.#opts.maxConnections, effective: max, fd_limit: this.#fds.limit, fds_open: this.#fds.open, fd_reserve: reserve, threads: this.#threads() },
      'connection limit lowered to fit the fd limit',
    );
  }

  /**
   * Connections taken at most now: the option, lowered so clients can never
   * take the fds the daemon needs — the reserve, and those of the threads
   * running now and of the next to start. It follows the threads: it falls
   * as they start and rises as they retire. A connection already accepted
   * is never closed when it falls; only newcomers are refused.
   */
  #limit(): { max: number; reserve: number } {
    if (this.#fds === null) return { max: this.#opts.maxConnections, reserve: 0 };
    const reserve = FD_RESERVE + FDS_PER_THREAD * (this.#threads() + 1);
    const room = this.#fds.limit - this.#fds.open - reserve;
    return { max: Math.max(1, Math.min(this.#opts.maxConnections, room)), reserve };
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
    const conn = new Connection(socket, socket, this.#router, this.#opts, log, (c) => {
      this.#conns.delete(c);
      // At info only for a connection that carried JSON-RPC work: a `status` health check every
      // few seconds would otherwise write two lines each time (docs/protocol.md, "Logs").
      const level = c.foreground ? 'info' : 'debug';
      log[level]({ ms: Math.round(performance.now() - openedAt) }, 'connection closed');
    });
    this.#conns.add(conn);
    log.debug('connection opened');
  }

  get activeConnections(): number {
    return this.#conns.size;
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

  stats(): ConnectionsStatus {
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

  /** True while the socket file at our path is still the one we bound. */
  #ownsPath(): boolean {
    if (this.#listen?.kind !== 'path' || this.#bound === null) return false;
    try {
      const st = lstatSync(this.#listen.path);
      return st.isSocket() && st.dev === this.#bound.dev && st.ino === this.#bound.ino;
    } catch {
      return false;
    }
  }

  /** Stops listening (once). The bound private name is already gone, so libuv's unlink-on-close touches nothing. */
  #stopListening(): Promise<void> {
    if (this.#listenerClosed) return Promise.resolve();
    this.#listenerClosed = true;
    return new Promise<void>((resolve) => this.#net.close(() => resolve()));
  }

  /**
   * Graceful stop: stop accepting, stop reading, wait (up to `drainMs`) for
   * every in-flight request to be answered, then end the connections.
   * Returns whether everything drained in time. A second call waits for
   * the first.
   */
  close(drainMs: number): Promise<boolean> {
    this.#closing ??= this.#close(drainMs);
    return this.#closing;
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
    const where = this.#listen;
    if (where === null) return '';
    // Looked up once: status may be asked every few ms.
    this.#served ??= where.kind === 'path' ? where.path : activatedSocketName(where.fd);
    return this.#served;
  }

  /** Unlinks the socket path if it is still the socket we bound (never an activated one, never a successor's). */
  unlinkOwnPath(): void {
    if (this.#listen?.kind !== 'path') return;
    if (!this.#ownsPath()) {
      if (this.#bound !== null) this.#log.warn({ socket: this.#listen.path }, 'the socket path is no longer ours; leaving it alone');
      return;
    }
    try {
      unlinkSync(this.#listen.path);
    } catch {
      // already gone
    }
  }
}
