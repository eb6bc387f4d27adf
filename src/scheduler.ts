/**
 * The lifecycle scheduler (SPEC §7), on the main thread. It alone owns
 * `fsm_state` (WAKE → TRANSITIONING → SLEEP → DREAMING → WAKE): it consumes
 * the flags the control plane sets and runs the dispatch module's
 * `maintain(ctx)` — one bounded cycle at a time, on a slow-lane thread —
 * only when the daemon is idle or when forced. Human first: before each
 * cycle it yields at once to a new connection, a JSON-RPC call, a
 * `force_wake` or a `pause`.
 */
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Pool } from './pool.js';
import type { StateData, StateStore } from './state.js';

export type FsmState = 'WAKE' | 'TRANSITIONING' | 'SLEEP' | 'DREAMING';

/** The scheduler's part of the config (meanings in config.ts). */
export type SchedulerOptions = Pick<Config, 'tickMs' | 'idleMs' | 'sleepEveryMs' | 'sleepCycles' | 'firstTurnTtlMs' | 'firstTurnMax'>;

/** What the scheduler reads about foreground traffic. */
export interface Activity {
  readonly activeConnections: () => number;
  readonly lastActivity: () => number;
  /** Monotonic counters: connections accepted, JSON-RPC calls received. */
  readonly accepted: () => number;
  readonly calls: () => number;
}

export interface CycleRecord {
  readonly started_at: string;
  readonly duration_ms: number;
  readonly outcome: 'ok' | 'error' | 'skipped';
  readonly detail?: unknown;
}

const pending = (v: unknown): boolean => v !== null && typeof v === 'object' && (v as { pending?: unknown }).pending === true;

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
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => void this.tick(), this.#opts.tickMs);
    this.#timer.unref();
  }

  /** Stops ticking; waits for a running cycle (the caller bounds the wait), then leaves WAKE on disk. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#busy) await this.#busy;
  }

  /** For `status`. */
  snapshot(): Record<string, unknown> {
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
    const fsm = (typeof s.fsm_state === 'string' ? s.fsm_state : 'WAKE') as FsmState;
    const base = (d: StateData): void => {
      d.last_tick_at = new Date(now).toISOString();
      this.#prune(d, now);
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
    if (pending(s.force_wake_request)) {
      // Already awake: the request is satisfied.
      return this.#skip('awake', (d) => {
        base(d);
        (d.force_wake_request as Record<string, unknown>).pending = false;
      });
    }
    const forced = pending(s.force_rem_request);
    const asked = pending(s.user_sleep_request);
    const idleFor = now - this.#activity.lastActivity();
    const idle = this.#activity.activeConnections() === 0 && idleFor >= this.#opts.idleMs;
    if (!forced && !asked) {
      if (!idle) {
        const reason = this.#activity.activeConnections() > 0 ? 'connections active' : `idle in ${Math.ceil((this.#opts.idleMs - idleFor) / 1000)} s`;
        return this.#skip('not_idle', base, reason);
      }
      const due = this.#lastSleepEndedAt + this.#opts.sleepEveryMs - now;
      if (due > 0) return this.#skip('slept_recently', base, `next idle sleep in ${Math.ceil(due / 1000)} s`);
    }
    await this.#sleep(forced ? 'force_rem' : asked ? 'user' : 'idle', base);
  }

  #skip(reason: string, mutate: (d: StateData) => void, waitingFor = reason): Promise<void> {
    this.#waitingFor = waitingFor;
    return this.#write((d) => {
      mutate(d);
      d.last_tick_skipped_reason = reason;
    });
  }

  async #write(mutate: (d: StateData) => void): Promise<void> {
    try {
      await this.#state.update(mutate);
    } catch (err) {
      this.#log.error({ err }, 'scheduler could not persist state');
    }
  }

  #transition(to: FsmState, extra?: (d: StateData) => void): Promise<void> {
    this.#log.info({ fsm_state: to }, 'transition');
    return this.#write((d) => {
      d.fsm_state = to;
      extra?.(d);
    });
  }

  /** Why to stop sleeping now, or null. */
  #interrupted(accepted: number, calls: number): string | null {
    const s = this.#state.data;
    if (this.#stopping) return 'stopping';
    if (s.scheduler_paused === true) return 'paused';
    if (pending(s.force_wake_request)) return 'force_wake';
    if (this.#activity.accepted() !== accepted) return 'connection';
    if (this.#activity.calls() !== calls) return 'call';
    return null;
  }

  async #sleep(why: 'force_rem' | 'user' | 'idle', base: (d: StateData) => void): Promise<void> {
    const accepted = this.#activity.accepted();
    const calls = this.#activity.calls();
    this.#waitingFor = 'sleeping';
    this.#log.info({ why }, 'entering sleep');
    await this.#transition('TRANSITIONING', (d) => {
      base(d);
      d.last_tick_skipped_reason = null;
      // Consume the flag that started this sleep.
      if (why === 'force_rem') (d.force_rem_request as Record<string, unknown>).pending = false;
      if (why === 'user') (d.user_sleep_request as Record<string, unknown>).pending = false;
    });
    await this.#transition('SLEEP');
    const cycles = why === 'force_rem' ? 1 : this.#opts.sleepCycles;
    let woke: string | null = null;
    for (let i = 0; i < cycles; i++) {
      // A forced cycle runs even while busy; any other yields to people first.
      woke = why === 'force_rem' ? (this.#stopping ? 'stopping' : null) : this.#interrupted(accepted, calls);
      if (woke !== null) break;
      await this.#transition('DREAMING');
      await this.#cycle();
      await this.#transition('SLEEP');
    }
    await this.#transition('WAKE', (d) => {
      if (woke === 'force_wake') (d.force_wake_request as Record<string, unknown>).pending = false;
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
    this.#lastCycle =
      outcome === null
        ? { started_at: startedAt.toISOString(), duration_ms: duration, outcome: 'skipped', detail: 'no thread could be spared from foreground calls' }
        : outcome.ok
          ? { started_at: startedAt.toISOString(), duration_ms: duration, outcome: 'ok', detail: JSON.parse(outcome.json) as unknown }
          : { started_at: startedAt.toISOString(), duration_ms: duration, outcome: 'error', detail: outcome.error };
    const log = this.#lastCycle.outcome === 'error' ? this.#log.warn.bind(this.#log) : this.#log.info.bind(this.#log);
    log({ cycle: this.#lastCycle }, 'maintenance cycle');
    await this.#write((d) => {
      d.last_cycle = this.#lastCycle;
    });
  }

  #prune(d: StateData, now: number): void {
    const ftp = d.first_turn_pending;
    if (ftp === null || typeof ftp !== 'object') return;
    const entries = Object.entries(ftp as Record<string, unknown>)
      .map(([k, v]) => [k, typeof v === 'string' ? Date.parse(v) : Number.NaN] as const)
      .filter(([, t]) => Number.isFinite(t) && now - t <= this.#opts.firstTurnTtlMs)
      .sort((a, b) => b[1] - a[1])
      .slice(0, this.#opts.firstTurnMax);
    if (entries.length !== Object.keys(ftp).length) {
      const kept = new Set(entries.map(([k]) => k));
      d.first_turn_pending = Object.fromEntries(Object.entries(ftp as Record<string, unknown>).filter(([k]) => kept.has(k)));
    }
  }
}
