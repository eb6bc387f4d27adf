/**
 * The composition root: builds the pieces in order, passes each its
 * dependencies, and owns the graceful stop (SPEC §4). Reads no argv, env or
 * signals itself — the CLI does, and calls `close()`.
 *
 * Start: home (0700) → lock → state (daemon_started_at) → pool (the dispatch
 * module must load) → control plane → router → transport (activated fd, or
 * stale-socket check and bind, or stdio).
 *
 * Stop, in order:
 *   1. stop accepting connections and stop reading requests;
 *   2. wait for in-flight calls to finish and their responses to be written,
 *      up to the drain deadline;
 *   3. end the connections;
 *   4. stop the scheduler, letting a running maintenance cycle finish
 *      within the deadline;
 *   5. destroy the pool;
 *   6. persist `daemon_stopped_at` (and `fsm_state` WAKE);
 *   7. unlink the socket we bound (never an activated one) — before the lock
 *      goes, so a successor can never lose its fresh socket to us;
 *   8. release the lock.
 */
import { mkdirSync, unlinkSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { ControlPlane } from './control.js';
import { Connection } from './connection.js';
import { acquireLock, type HeldLock } from './lock.js';
import { createPool, type Pool } from './pool-setup.js';
import { Router } from './router.js';
import { Server, removeStaleSocket, type Listen } from './server.js';
import { StateStore, loadStateFile } from './state.js';
import { Scheduler } from './scheduler.js';
import { takeActivation, type Activation } from './activation.js';
import { VERSION } from './version.js';
import { within } from './within.js';

const BUILTIN_STORE = new URL('../workers/store.js', import.meta.url);

/** The built-in store's module URL: its database and limit travel in the query. */
function builtinStore(config: Config): string {
  const url = new URL(BUILTIN_STORE);
  url.searchParams.set('db', join(config.home, 'store.db'));
  url.searchParams.set('maxText', String(config.storeMaxTextBytes));
  return url.href;
}

export interface DaemonOptions {
  readonly log: Logger;
  /** Environment to take LISTEN_* from (and clear them in). */
  readonly env?: NodeJS.ProcessEnv;
  /** stdio transport streams (default process.stdin / process.stdout). */
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout?: NodeJS.WritableStream;
}

export class Daemon {
  readonly config: Config;
  readonly log: Logger;
  readonly state: StateStore;
  readonly pool: Pool;
  readonly control: ControlPlane;
  readonly scheduler: Scheduler;
  readonly #lock: HeldLock;
  #calls = 0;
  #server: Server | null = null;
  #stdio: Connection | null = null;
  #lastActivity = Date.now();
  #closing: Promise<boolean> | null = null;
  /** Resolves when a stdio session reaches EOF and has answered everything. */
  readonly finished: Promise<void>;
  #finish!: () => void;

  private constructor(config: Config, log: Logger, lock: HeldLock, state: StateStore) {
    this.config = config;
    this.log = log;
    this.#lock = lock;
    this.state = state;
    this.finished = new Promise((resolve) => (this.#finish = resolve));
    this.pool = createPool(config, config.dispatch === null ? builtinStore(config) : pathToFileURL(config.dispatch).href);
    this.control = new ControlPlane({ state, version: VERSION, firstTurnMax: config.firstTurnMax, metrics: () => this.metrics() });
    this.scheduler = new Scheduler(config, {
      state,
      pool: this.pool,
      log: log.child({ part: 'scheduler' }),
      activity: {
        activeConnections: () => this.activeConnections,
        lastActivity: () => this.#lastActivity,
        accepted: () => this.#server?.accepted ?? 0,
        calls: () => this.#calls,
      },
    });
  }

  /** Starts a daemon; throws (after undoing what it did) if any step fails. */
  static async start(config: Config, opts: DaemonOptions): Promise<Daemon> {
    const { log } = opts;
    // First, before any worker or child exists to inherit LISTEN_*.
    const activation = takeActivation(opts.env ?? {}, process.pid);
    const created = mkdirSync(config.home, { recursive: true, mode: 0o700 });
    if (created !== undefined) chmodSync(config.home, 0o700);
    const lock = acquireLock(join(config.home, 'daemon.lock'));
    let daemon: Daemon | undefined;
    try {
      const statePath = join(config.home, 'state.json');
      const loaded = loadStateFile(statePath);
      if (loaded.movedAside !== null) {
        log.warn({ moved_to: loaded.movedAside, error: loaded.error }, 'state file was unreadable; kept it aside and started from {}');
      }
      const state = new StateStore(statePath, loaded.data);
      daemon = new Daemon(config, log, lock, state);
      await state
        .update((s) => {
          s.daemon_started_at = new Date().toISOString();
          s.daemon_pid = process.pid;
          delete s.daemon_stopped_at;
        })
        .catch((err: Error) => log.error({ err }, 'could not persist daemon_started_at'));
      await daemon.pool.ready;
      await daemon.#startTransport(opts, activation);
      daemon.scheduler.start();
      return daemon;
    } catch (err) {
      if (daemon !== undefined) await daemon.pool.destroy().catch(() => {});
      lock.release();
      throw err;
    }
  }

  #router(): Router {
    return new Router(
      {
        pool: this.pool,
        control: this.control,
        onActivity: () => (this.#lastActivity = Date.now()),
        onCall: () => this.#calls++,
      },
      this.config.maxLineBytes,
    );
  }

  async #startTransport(opts: DaemonOptions, activation: Activation): Promise<void> {
    const { config, log } = this;
    if (config.stdio) {
      const input = (opts.stdin ?? process.stdin) as NodeJS.ReadableStream & import('node:stream').Readable;
      const output = (opts.stdout ?? process.stdout) as NodeJS.WritableStream & import('node:stream').Writable;
      this.#stdio = new Connection(input, output, this.#router(), config, log.child({ conn: 'stdio' }), () => this.#finish(), false);
      log.info({ transport: 'stdio', threads: config.threads, version: VERSION }, 'serving on stdio');
      return;
    }
    let where: Listen;
    if (activation.activated) {
      where = { kind: 'fd', fd: activation.fd };
    } else {
      if (activation.reason !== null) log.warn({ reason: activation.reason }, 'ignoring socket activation; binding the path');
      if (await removeStaleSocket(config.socket)) log.warn({ socket: config.socket }, 'removed a stale socket file');
      where = { kind: 'path', path: config.socket };
    }
    const server = new Server(this.#router(), config, log);
    await server.listen(where);
    this.#server = server;
    log.info(
      { socket: where.kind === 'path' ? where.path : `fd:${where.fd}`, activated: activation.activated, threads: config.threads, version: VERSION },
      'listening',
    );
  }

  /** The live metrics `status` carries (SPEC §8). */
  metrics(): Record<string, unknown> {
    const server = this.#server;
    return {
      pid: process.pid,
      pool: this.pool.stats(),
      connections: server ? server.stats() : { active: this.#stdio && !this.#stdio.closed ? 1 : 0 },
      in_flight: server ? server.inFlight : (this.#stdio?.inFlight ?? 0),
      last_activity_ts: new Date(this.#lastActivity).toISOString(),
      scheduler: this.scheduler.snapshot(),
      memory: memory(),
      config: this.config,
    };
  }

  get activeConnections(): number {
    return this.#server?.activeConnections ?? (this.#stdio && !this.#stdio.closed ? 1 : 0);
  }

  /** Graceful stop (steps in the header). Resolves true if everything drained. Idempotent. */
  close(): Promise<boolean> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<boolean> {
    const { log, config } = this;
    log.info({ drain_timeout_ms: config.drainTimeoutMs }, 'stopping');
    let drained = true;
    if (this.#server) drained = await this.#server.close(config.drainTimeoutMs);
    if (this.#stdio) {
      this.#stdio.stopReading();
      drained = await within(this.#stdio.idle(), config.drainTimeoutMs);
    }
    // A maintenance cycle in progress finishes first, within what is left of the deadline.
    const cycleDone = await within(this.scheduler.stop(), drained ? config.drainTimeoutMs : 0);
    if (!drained) log.warn('drain deadline passed with calls still running; stopping anyway');
    if (!cycleDone) log.warn('drain deadline passed during a maintenance cycle; stopping anyway');
    await this.pool.destroy();
    await this.state
      .update((s) => {
        s.daemon_stopped_at = new Date().toISOString();
        // No cycle runs past this point: what is on disk says so.
        if (s.fsm_state !== undefined && s.fsm_state !== 'WAKE') s.fsm_state = 'WAKE';
      })
      .catch((err: Error) => log.error({ err }, 'could not persist daemon_stopped_at'));
    const bound = this.#server?.boundPath ?? null;
    if (bound !== null) {
      try {
        unlinkSync(bound);
      } catch {
        // already gone: libuv unlinks the path it bound when the listener closes
      }
    }
    this.#lock.release();
    log.info({ drained }, 'stopped');
    return drained;
  }

  /** Immediate stop: drop connections and threads, release the lock. */
  async destroy(): Promise<void> {
    this.#server?.destroy();
    this.#stdio?.destroy();
    await this.pool.destroy();
    const bound = this.#server?.boundPath ?? null;
    if (bound !== null) {
      try {
        unlinkSync(bound);
      } catch {
        // already gone
      }
    }
    this.#lock.release();
  }
}

function memory(): Record<string, number> {
  const m = process.memoryUsage();
  return { rss_bytes: m.rss, heap_used_bytes: m.heapUsed, external_bytes: m.external };
}

