/**
 * The unix-socket transport: binds (or adopts an activated fd), accepts,
 * enforces the connection limit, and hands each socket to a Connection.
 * The only module that touches net.Socket / net.Server.
 * Lifecycle: listening → closing → closed; close() is graceful, destroy()
 * immediate, both idempotent.
 */
import { createConnection, createServer, type Server as NetServer, type Socket } from 'node:net';
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { Connection, type ConnectionLimits } from './connection.js';
import { ErrorCode } from './errors.js';
import { errorLine } from './response.js';
import type { Router } from './router.js';
import { within } from './within.js';

export type Listen = { readonly kind: 'path'; readonly path: string } | { readonly kind: 'fd'; readonly fd: number };

export interface ServerOptions extends ConnectionLimits {
  readonly maxConnections: number;
}

/** Something already answers on the socket path. */
export class SocketInUseError extends Error {
  override get name(): string {
    return 'SocketInUseError';
  }
}

/** True if something accepts connections on `path`. */
function answers(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const done = (v: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(true), timeoutMs); // a hung listener is still a listener
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Removes a stale socket file at `path`. Call only while holding the lock.
 * A socket that still answers, or a file that is not a socket, is left alone.
 */
export async function removeStaleSocket(path: string): Promise<boolean> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (!st.isSocket()) throw new SocketInUseError(`${path} exists and is not a socket; refusing to remove it`);
  if (await answers(path)) throw new SocketInUseError(`${path} is in use by another process`);
  unlinkSync(path);
  return true;
}

export class Server {
  readonly #router: Router;
  readonly #opts: ServerOptions;
  readonly #log: Logger;
  readonly #net: NetServer;
  readonly #conns = new Set<Connection>();
  #state: 'idle' | 'listening' | 'closing' | 'closed' = 'idle';
  #listen: Listen | null = null;
  #nextId = 0;
  #accepted = 0;
  #refused = 0;
  #closing: Promise<boolean> | null = null;

  constructor(router: Router, opts: ServerOptions, log: Logger) {
    this.#router = router;
    this.#opts = opts;
    this.#log = log;
    this.#net = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (s) => this.#accept(s));
    this.#net.on('error', (err) => this.#log.error({ err }, 'listener error'));
  }

  /** Binds the path (parent 0700, socket 0600 at once) or adopts an inherited fd. */
  async listen(where: Listen): Promise<void> {
    this.#listen = where;
    if (where.kind === 'path') {
      mkdirSync(dirname(where.path), { recursive: true, mode: 0o700 });
      // umask keeps the socket private between bind and chmod.
      const old = process.umask(0o177);
      try {
        await new Promise<void>((resolve, reject) => {
          this.#net.once('error', reject);
          this.#net.listen(where.path, () => {
            this.#net.off('error', reject);
            resolve();
          });
        });
      } finally {
        process.umask(old);
      }
      chmodSync(where.path, 0o600);
    } else {
      await new Promise<void>((resolve, reject) => {
        this.#net.once('error', reject);
        this.#net.listen({ fd: where.fd }, () => {
          this.#net.off('error', reject);
          resolve();
        });
      });
    }
    this.#state = 'listening';
  }

  #accept(socket: Socket): void {
    if (this.#state !== 'listening') {
      socket.destroy();
      return;
    }
    if (this.#conns.size >= this.#opts.maxConnections) {
      this.#refused++;
      this.#log.warn({ max_connections: this.#opts.maxConnections }, 'connection refused: too many connections');
      socket.on('error', () => {});
      socket.end(`${errorLine(null, { code: ErrorCode.Overloaded, message: `too many connections (limit ${this.#opts.maxConnections})` })}\n`);
      return;
    }
    this.#accepted++;
    const id = ++this.#nextId;
    const log = this.#log.child({ conn: id });
    const conn = new Connection(socket, socket, this.#router, this.#opts, log, (c) => {
      this.#conns.delete(c);
      log.info('connection closed');
    });
    this.#conns.add(conn);
    log.info('connection opened');
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

  stats(): Record<string, number> {
    return { active: this.#conns.size, foreground: this.foregroundConnections, accepted: this.#accepted, refused: this.#refused, max: this.#opts.maxConnections };
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
    const stopped = new Promise<void>((resolve) => this.#net.close(() => resolve()));
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
    this.#net.close();
    for (const c of this.#conns) c.destroy();
    this.#conns.clear();
  }

  /** The socket path we bound ourselves (null when activated). */
  get boundPath(): string | null {
    return this.#listen?.kind === 'path' ? this.#listen.path : null;
  }
}
