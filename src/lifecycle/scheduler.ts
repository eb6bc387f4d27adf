/**
 * The lifecycle scheduler (SPEC §7), on the main thread. It alone owns
 * `fsm_state` (WAKE → TRANSITIONING → SLEEP → DREAMING → WAKE): it consumes
 * the flags the control plane sets and runs the dispatch module's
 * `maintain(ctx)` — one bounded cycle at a time, on a slow-lane thread —
 * only when the daemon is idle or when forced. Human first: before each
 * cycle it yields at once to foreground work (a JSON-RPC call), a
 * `force_wake` or a `pause`. Control messages are not foreground work: a
 * monitoring `status` neither wakes a sleep nor keeps the daemon from idling.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Pool } from '../pool/pool.js';
import { StateClosedError, type StateStore } from './state.js';
import type { SchedulerStatus } from './status-reply.js';
import { trimFirstTurn, type CycleRecord, type DaemonState, type FsmState, type Json } from './statedata.js';

export type { CycleRecord, FsmState } from './statedata.js';

/** The scheduler's part of the config (meanings in config.ts). */
export type SchedulerOptions = Pick<Config, 'tickMs' | 'idleMs' | 'sleepEveryMs' | 'sleepCycles' | 'firstTurnTtlMs' | 'firstTurnMax' | 'firstTurnMaxBytes'>;

/** What the scheduler reads about foreground work (SPEC §7): JSON-RPC requests and their connections. */
export interface Activity {
  /** Open connections that have carried a JSON-RPC request. */
  readonly foregroundConnections: () => number;
  /** When (epoch ms) the last line other than a control message arrived. */
  readonly lastForeground: () => number;
  /** JSON-RPC requests received since start (monotonic). */
  readonly calls: () => number;
}

/** What a sleep yields to, counted when it began. */
interface Mark {
  readonly calls: number;
  readonly lastForeground: number;
}

export class Scheduler {
  readonly #opts: SchedulerOptions;
  readonly #state: StateStore;
  readonly #pool: Pool;
  readonly #activity: Activity;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #busy: Promise<void> | null = null;
  #stopping = false;
  #cycles = 0;
  #lastCycle: CycleRecord | null = null;
  #lastSleepEndedAt = Number.NEGATIVE_INFINITY;
  #waitingFor = 'first tick';

  constructor(opts: SchedulerOptions, deps: { state: StateStore; pool: Pool; activity: Activity; log: Logger }) {
    this.#opts = opts;
    this.#state = deps.state;
    this.#pool = deps.pool;
    this.#activity = deps.activity;
    this.#log = deps.log;
  }

  start(): void {
    if (this.#timer !== null || this.#stopping) return;
    this.#timer = setInterval(() => void this.tick(), this.#opts.tickMs);
    this.#timer.unref();
  }

  /**
   * Stops ticking for good, and asks a running sleep to end after its
   * current cycle. Resolves when that sleep is over (the caller bounds the
   * wait). Idempotent.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#busy) await this.#busy;
  }

  /** For `status`. */
  snapshot(): SchedulerStatus {
    return {
      tick_ms: this.#opts.tickMs,
      running: this.#busy !== null,
      cycles: this.#cycles,
      last_cycle: this.#lastCycle,
      waiting_for: this.#waitingFor,
      last_tick_skipped_reason: this.#state.data.last_tick_skipped_reason ?? null,
    };
  }

  /** One tick. Never overlaps another; never throws. */
  async tick(): Promise<void> {
    if (this.#busy !== null || this.#stopping) return;
    this.#busy = this.#tick()
      .catch((err: unknown) => this.#log.error({ err }, 'scheduler tick failed'))
      .finally(() => {
        this.#busy = null;
      });
    await this.#busy;
  }

  async #tick(): Promise<void> {
    const now = Date.now();
    const s = this.#state.data;
    const fsm: FsmState = s.fsm_state ?? 'WAKE';
    const base = (d: DaemonState): void => {
      d.last_tick_at = new Date(now).toISOString();
      if (d.first_turn_pending) d.first_turn_pending = trimFirstTurn(d.first_turn_pending, now, this.#opts);
    };
    if (fsm !== 'WAKE') {
      // Only a running sleep holds a non-WAKE state, and none is running.
      this.#log.warn({ fsm_state: fsm }, 'found a sleep state with no cycle running (left by an earlier process); returning to WAKE');
      await this.#write((d) => {
        base(d);
        d.fsm_state = 'WAKE';
        d.last_tick_skipped_reason = `recovered from ${fsm}`;
      });
      return;
    }
    if (s.scheduler_paused === true) return this.#skip('paused', base);
    if (s.force_wake_request?.pending === true) {
      // Already awake: the request is satisfied.
      return this.#skip('awake', (d) => {
        base(d);
        if (d.force_wake_request) d.force_wake_request.pending = false;
      });
    }
    const forced = s.force_rem_request?.pending === true;
    const asked = s.user_sleep_request?.pending === true;
    if (!forced && !asked) {
      const busy = this.#activity.foregroundConnections();
      const idleFor = now - this.#activity.lastForeground();
      if (busy > 0 || idleFor < this.#opts.idleMs) {
        const reason = busy > 0 ? 'connections active' : `idle in ${Math.ceil((this.#opts.idleMs - idleFor) / 1000)} s`;
        return this.#skip('not_idle', base, reason);
      }
      const due = this.#lastSleepEndedAt + this.#opts.sleepEveryMs - now;
      if (due > 0) return this.#skip('slept_recently', base, `next idle sleep in ${Math.ceil(due / 1000)} s`);
    }
    await this.#sleep(forced ? 'force_rem' : asked ? 'user' : 'idle', base);
  }

  #skip(reason: string, mutate: (d: DaemonState) => void, waitingFor = reason): Promise<void> {
    this.#waitingFor = waitingFor;
    return this.#write((d) => {
      mutate(d);
      d.last_tick_skipped_reason = reason;
    });
  }

  async #write(mutate: (d: DaemonState) => void): Promise<void> {
    try {
      await this.#state.update(mutate);
    } catch (err) {
      // After an immediate stop the store is closed while a cycle may still be unwinding.
      if (err instanceof StateClosedError) this.#log.debug('state store closed; scheduler write dropped');
      else this.#log.error({ err }, 'scheduler could not persist state');
    }
  }

  #transition(to: FsmState, extra?: (d: DaemonState) => void): Promise<void> {
    this.#log.info({ fsm_state: to }, 'transition');
    return this.#write((d) => {
      d.fsm_state = to;
      extra?.(d);
    });
  }

  /** Why to stop sleeping now, or null. Control messages never count (SPEC §7). */
  #interrupted(mark: Mark): string | null {
    const s = this.#state.data;
    if (this.#stopping) return 'stopping';
    if (s.scheduler_paused === true) return 'paused';
    if (s.force_wake_request?.pending === true) return 'force_wake';
    if (this.#activity.calls() !== mark.calls) return 'call';
    if (this.#activity.lastForeground() !== mark.lastForeground) return 'foreground';
    return null;
  }

  async #sleep(why: 'force_rem' | 'user' | 'idle', base: (d: DaemonState) => void): Promise<void> {
    const mark: Mark = { calls: this.#activity.calls(), lastForeground: this.#activity.lastForeground() };
    this.#waitingFor = 'sleeping';
    this.#log.info({ why }, 'entering sleep');
    await this.#transition('TRANSITIONING', (d) => {
      base(d);
      d.last_tick_skipped_reason = null;
      // Consume the flag that started this sleep.
      if (why === 'force_rem' && d.force_rem_request) d.force_rem_request.pending = false;
      if (why === 'user' && d.user_sleep_request) d.user_sleep_request.pending = false;
    });
    await this.#transition('SLEEP');
    const cycles = why === 'force_rem' ? 1 : this.#opts.sleepCycles;
    let woke: string | null = null;
    for (let i = 0; i < cycles; i++) {
      // A forced cycle runs even while busy; any other yields to people first.
      woke = why === 'force_rem' ? (this.#stopping ? 'stopping' : null) : this.#interrupted(mark);
      if (woke !== null) break;
      await this.#transition('DREAMING');
      await this.#cycle();
      await this.#transition('SLEEP');
    }
    await this.#transition('WAKE', (d) => {
      if (woke === 'force_wake' && d.force_wake_request) d.force_wake_request.pending = false;
    });
    this.#lastSleepEndedAt = Date.now();
    this.#waitingFor = 'idle';
    this.#log.info({ why, woke_by: woke ?? 'done' }, 'awake');
  }

  async #cycle(): Promise<void> {
    const startedAt = new Date();
    const t0 = performance.now();
    const outcome = await this.#pool.maintain({ cycle: this.#cycles + 1, started_at: startedAt.toISOString() });
    const duration = Math.round((performance.now() - t0) * 1000) / 1000;
    this.#cycles++;
    const record = (o: CycleRecord['outcome'], detail: Json): CycleRecord => ({ started_at: startedAt.toISOString(), duration_ms: duration, outcome: o, detail });
    const cycle =
      outcome === null
        ? record('skipped', 'no thread could be spared from foreground calls')
        : outcome.ok
          ? record('ok', JSON.parse(outcome.json) as Json)
          : record('error', { code: outcome.error.code, message: outcome.error.message });
    this.#lastCycle = cycle;
    const log = cycle.outcome === 'error' ? this.#log.warn.bind(this.#log) : this.#log.info.bind(this.#log);
    log({ cycle }, 'maintenance cycle');
    await this.#write((d) => {
      d.last_cycle = cycle;
    });
  }
}
