/**
 * The composition root: builds the pieces in order, passes each its
 * dependencies, and owns the graceful stop (SPEC §4). Reads no argv, env or
 * signals itself — the CLI does, and calls `close()`.
 *
 * Start: the claim (`claim.ts`: activation (LISTEN_FDS, else launchd on
 * macOS) → home (0700, ours, closed to others) → lock → pool, whose threads
 * start booting; the CLI takes it before loading this module) → state
 * (leftover temps removed; writes held until the start succeeds) →
 * control plane → router → metrics listener (opt-in) → transport
 * (`openTransport`: activated fd, or stale-socket check and bind, or stdio):
 * reachable from here, before the pool is warm → the daemon itself → the
 * dispatch module loads within its bound → daemon_started_at → scheduler →
 * READY=1 to systemd. A start that fails before the transport is open only
 * closes the metrics listener, destroys the pool and releases the lock:
 * nothing was reachable on the socket yet.
 *
 * Stop: one sequence, two modes. `close()` is graceful, `destroy()` is
 * immediate; both are idempotent and return the same promise, and a
 * `destroy()` during a `close()` makes the running stop immediate. A failed
 * start fails the calls still queued, then runs the graceful mode with a
 * short drain and no state write. In order (after STOPPING=1 to
 * systemd and closing the metrics listener):
 *   1. stop accepting connections and stop reading requests (immediate:
 *      drop the connections now);
 *   2. wait for in-flight calls to finish and their responses to be written,
 *      up to the drain deadline (immediate: no wait);
 *   3. end the connections;
 *   4. stop the scheduler, letting a running maintenance cycle finish
 *      within what is left of the deadline (immediate: no wait);
 *   5. destroy the pool;
 *   6. persist `daemon_stopped_at` and `fsm_state` WAKE (graceful only);
 *   7. close the state store: refuse further writes and wait for those under
 *      way, so nothing writes state.json once the lock is gone;
 *   8. unlink the socket we bound if it is still ours (same device and
 *      inode; never an activated one) — before the lock goes, so a successor
 *      can never lose its fresh socket to us;
 *   9. release the lock.
 *
 * Why a little past 300 lines: the start order and the stop sequence above
 * are one ordering each, and this is where each reads top to bottom; the
 * steps they order (transport, state, stop mode, module wait) live in their
 * own files.
 */
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { ControlPlane } from './lifecycle/control.js';
import type { HeldLock } from './host/lock.js';
import type { Pool } from './pool/pool-setup.js';
import type { ReloadReport } from './pool/pool.js';
import { Router } from './server/router.js';
import { openTransport, type Transport } from './server/transport.js';
import { openStateStore, type StateStore } from './lifecycle/state.js';
import { Scheduler } from './lifecycle/scheduler.js';
import { IdleRelease } from './lifecycle/idle-release.js';
import { memoryRelease } from './host/release-memory.js';
import { claimHome, type Claim, type ClaimOptions } from './lifecycle/claim.js';
import { notifierFor, type Notifier } from './host/notify.js';
import { MetricsServer } from './server/metrics-server.js';
import { VERSION } from './version.js';
import { once } from './lifecycle/once.js';
import { StopMode } from './lifecycle/hurry.js';
import { moduleLoaded, throwIfStopAsked } from './lifecycle/loading.js';
import { eventLoopHealth } from './observability/loophealth.js';
import type { DaemonMetrics, MemoryStatus } from './lifecycle/status-reply.js';

export { StartAbortedError } from './lifecycle/loading.js';

/** How long a failed start waits for the answers of calls it had already received. */
const FAILED_START_DRAIN_MS = 500;

export interface DaemonOptions extends ClaimOptions {
  readonly log: Logger;
  /**
   * The home claimed and the threads started earlier (`claimHome`): the CLI
   * takes it before loading this module, so the threads boot meanwhile.
   * Taken here when absent. From the call on, the start owns it.
   */
  readonly claim?: Claim;
  /** stdio transport streams (default process.stdin / process.stdout). */
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout?: NodeJS.WritableStream;
  /** Aborting it during the start (a SIGTERM while the module loads) ends the start with StartAbortedError. */
  readonly signal?: AbortSignal;
  /**
   * The daemon has the process to itself (`dispatchd serve`): `--quiet-release
   * auto` then gives memory back after a quiet spell. Embedded, a full GC would
   * pause the host's own work, so auto leaves it off.
   */
  readonly standalone?: boolean;
}

/** What clients did lately: the scheduler waits for quiet (SPEC §7), `status` shows it. */
interface Activity {
  calls: number;
  /** When foreground work last arrived (ms since the epoch). */
  lastForeground: number;
}

/** What a daemon is built from, all of it ready: its start (below) builds these in order. */
interface DaemonParts {
  readonly config: Config;
  /** Whether the daemon gives memory back after a quiet spell (`quietRelease`, resolved). */
  readonly quietRelease: boolean;
  readonly log: Logger;
  readonly claim: Claim;
  readonly state: StateStore;
  readonly notifier: Notifier;
  readonly control: ControlPlane;
  readonly activity: Activity;
  readonly transport: Transport;
  /** The opt-in metrics listener, starting (undefined when not asked for). */
  readonly metricsServer: MetricsServer | undefined;
}

export class Daemon {
  readonly config: Config;
  readonly log: Logger;
  readonly state: StateStore;
  readonly pool: Pool;
  readonly control: ControlPlane;
  readonly scheduler: Scheduler;
  readonly #lock: HeldLock;
  readonly #notifier: Notifier;
  readonly #transport: Transport;
  readonly #metricsServer: MetricsServer | undefined;
  readonly #activity: Activity;
  /** Gives memory back once per quiet spell. */
  readonly #idleRelease: IdleRelease;
  readonly #stopping = once(() => this.#run());
  #snapshot: DaemonMetrics | null = null;
  /** Set once the start has succeeded: only then does a stop record `daemon_stopped_at`. */
  #started = false;
  #drainMs: number;
  readonly #mode = new StopMode();
  /** Resolves when a stdio session reaches EOF and has answered everything. */
  readonly finished: Promise<void>;

  private constructor({ config, quietRelease, log, claim, state, notifier, control, activity, transport, metricsServer }: DaemonParts) {
    this.config = config;
    this.#notifier = notifier;
    this.#drainMs = config.drainTimeoutMs;
    this.log = log;
    this.#lock = claim.lock;
    this.pool = claim.pool;
    this.state = state;
    this.control = control;
    this.#activity = activity;
    this.#transport = transport;
    this.#metricsServer = metricsServer;
    this.finished = transport.finished;
    this.scheduler = new Scheduler(config, {
      state,
      pool: this.pool,
      log: log.child({ part: 'scheduler' }),
      activity: {
        foregroundConnections: () => this.#transport.foregroundConnections,
        lastForeground: () => activity.lastForeground,
        calls: () => activity.calls,
      },
    });
    this.#idleRelease = new IdleRelease({
      enabled: quietRelease,
      periodMs: config.threadIdleMs,
      calls: () => activity.calls,
      inFlight: () => this.#transport.inFlight,
      threadChanges: () => this.pool.threadChanges,
      release: memoryRelease(),
      log: log.child({ part: 'memory' }),
    });
  }

  /** Starts a daemon; throws (after undoing what it did) if any step fails. */
  static async start(config: Config, opts: DaemonOptions): Promise<Daemon> {
    const { log, stdin, stdout } = opts;
    const claim = opts.claim ?? (await claimHome(config, opts));
    const notifier = notifierFor(claim.notify, log);
    let daemon: Daemon | undefined;
    try {
      // A stop asked for while the claim was taken: nothing is bound yet, nothing to answer.
      throwIfStopAsked(opts.signal, 'stopped before the daemon was reachable');
      // Control messages are answered while the module loads; their writes wait for the start to succeed.
      const state = openStateStore(config.home, log);
      const activity: Activity = { calls: 0, lastForeground: Date.now() };
      // `status` shows the transport it arrives on, so the daemon that measures it is built once the
      // transport is open. No request is read before that: nothing is awaited in between, and the
      // first `status` is answered on a later turn (control replies are chained on a promise).
      const control = new ControlPlane({ state, version: VERSION, firstTurn: config, metrics: () => (daemon as Daemon).metrics() });
      const router = new Router(
        {
          pool: claim.pool,
          control,
          onActivity: () => (activity.lastForeground = Date.now()),
          onCall: () => activity.calls++,
          reload: () => reloadModule(claim.pool, config.dispatchLoadTimeoutMs, log),
        },
        config,
      );
      // Reachable before the pool is warm: under socket activation the start is the first
      // caller's latency. Control messages are answered at once; calls wait for their thread.
      // The metrics listener first: a port that is taken fails the start before anything is reachable
      // on the socket (docs/files.md). A scrape before the daemon exists is answered 500.
      const metrics = config.metricsListen === null ? undefined : await MetricsServer.start(config.metricsListen, () => control.status(), log);
      const transport = await openTransport({ config, activation: claim.activation, router, log, threads: () => claim.pool.threadsStarted, stdin, stdout }).catch(async (err: unknown) => {
        await metrics?.close();
        throw err;
      });
      const quietRelease = config.quietRelease === 'on' || (config.quietRelease === 'auto' && opts.standalone === true);
      daemon = new Daemon({ config, quietRelease, log, claim, state, notifier, control, activity, transport, metricsServer: metrics });
      await moduleLoaded(daemon.pool.ready, opts.signal, config.dispatchLoadTimeoutMs);
      state.release(true);
      // Only a start that succeeded is recorded: a failed one leaves state.json as it was.
      // The store writes its whole state on the first update, the start above included.
      await state
        .update(() => undefined)
        .catch((err: Error) => log.error({ err }, 'could not persist daemon_started_at'));
      daemon.#started = true;
      daemon.scheduler.start();
      notifier.ready();
      return daemon;
    } catch (err) {
      // The one stop sequence. Calls that arrived while the module was loading are answered
      // (a module that failed to load answers them -32001 with its error) within a short
      // drain; nothing is written to state.json; the lock goes last.
      if (daemon !== undefined) {
        daemon.state.release(false);
        // Calls still waiting for a thread (a module that never finished loading) are answered now, while connections are open.
        // A module that failed to load has answered those with its error already, and the pool refuses later calls with
        // that error until step 5 of the stop; destroying it here would answer a call read in between "pool is stopped".
        if (daemon.pool.stats().module !== 'failed') await daemon.pool.destroy();
        daemon.#drainMs = Math.min(FAILED_START_DRAIN_MS, config.drainTimeoutMs);
        await daemon.close();
      } else {
        await claim.pool.destroy();
        claim.lock.release();
      }
      throw err;
    }
  }

  /**
   * The live metrics `status` carries (SPEC §8). Taken once per turn of the
   * event loop: a batch of a thousand `status` messages shares one snapshot
   * instead of costing the main thread a thousand.
   */
  metrics(): DaemonMetrics {
    if (this.#snapshot === null) {
      this.#snapshot = this.#measure();
      setImmediate(() => (this.#snapshot = null));
    }
    return this.#snapshot;
  }

  #measure(): DaemonMetrics {
    const transport = this.#transport;
    return {
      pid: process.pid,
      pool: this.pool.stats(),
      connections: transport.connections(),
      in_flight: transport.inFlight,
      last_activity_ts: new Date(this.#activity.lastForeground).toISOString(),
      scheduler: this.scheduler.snapshot(),
      memory: { ...memory(), quiet_releases: this.#idleRelease.releases },
      event_loop: eventLoopHealth(),
      // What is actually served: an activated socket's own path, not the --socket default.
      config: transport.served === null ? this.config : { ...this.config, socket: transport.served },
    };
  }

  /**
   * Loads the dispatch module again in new threads (docs/reload.md): calls
   * after it resolves run the new module; on a load error nothing changes
   * and it rejects. Asked by `rpc.reload` and SIGUSR2.
   */
  reload(): Promise<ReloadReport> {
    return reloadModule(this.pool, this.config.dispatchLoadTimeoutMs, this.log);
  }

  /** Graceful stop (steps in the header). Resolves true if everything drained. Idempotent. */
  close(): Promise<boolean> {
    return this.#stop('graceful');
  }

  /** Immediate stop (steps in the header); also cuts short a graceful stop under way. Idempotent. */
  async destroy(): Promise<void> {
    await this.#stop('immediate');
  }

  #stop(mode: 'graceful' | 'immediate'): Promise<boolean> {
    if (mode === 'immediate' && this.#mode.hurry()) this.#transport.destroy();
    return this.#stopping();
  }

  async #run(): Promise<boolean> {
    const { log } = this;
    const drainMs = this.#drainMs;
    this.#idleRelease.stop();
    log.info({ immediate: this.#mode.immediate, drain_timeout_ms: drainMs }, 'stopping');
    this.#notifier.stopping();
    const deadline = Date.now() + drainMs;
    const left = (): number => Math.max(0, deadline - Date.now());
    await this.#metricsServer?.close();
    // 1–3: connections. A close that overruns its own bound is cut.
    const ms = left();
    const closing = this.#transport.close(ms);
    const settled = await this.#mode.wait(closing, ms + 1000);
    if (!settled) this.#transport.destroy();
    // A close that failed counts as not drained; the stop goes on (the pool, state and lock are still released).
    const drained = settled && (await closing.catch(() => false)) && !this.#mode.immediate;
    // 4: a maintenance cycle in progress finishes first, within what is left of the deadline.
    const cycleDone = await this.#mode.wait(this.scheduler.stop(), drained ? left() : 0);
    if (!drained) log.warn('stopping with calls still running');
    if (!cycleDone) log.warn('stopping during a maintenance cycle');
    // 5
    await this.pool.destroy();
    // 6: a start that failed leaves state.json as it was.
    if (this.#started && !this.#mode.immediate) {
      await this.state
        .update((s) => {
          s.daemon_stopped_at = new Date().toISOString();
          // No cycle runs past this point: what is on disk says so.
          if (s.fsm_state !== undefined && s.fsm_state !== 'WAKE') s.fsm_state = 'WAKE';
        })
        .catch((err: Error) => log.error({ err }, 'could not persist daemon_stopped_at'));
    }
    // 7
    await this.state.close();
    // 8: only if it is still the socket we bound (libuv may have unlinked it on close; a successor's may sit there).
    this.#transport.unlinkOwnPath();
    // 9
    this.#lock.release();
    log.info({ drained }, 'stopped');
    return drained;
  }
}

/** Loads the dispatch module in new threads; logs the outcome (a failed reload changes nothing). */
async function reloadModule(pool: Pool, timeoutMs: number, log: Logger): Promise<ReloadReport> {
  log.info('reloading the dispatch module');
  try {
    const report = await pool.reload(timeoutMs);
    log.info(report, 'dispatch module reloaded; new calls run it');
    return report;
  } catch (err) {
    log.error({ error: err instanceof Error ? err.message : String(err) }, 'reload failed; the module in use still serves');
    throw err;
  }
}

function memory(): Omit<MemoryStatus, 'quiet_releases'> {
  const m = process.memoryUsage();
  return { rss_bytes: m.rss, heap_used_bytes: m.heapUsed, external_bytes: m.external };
}

