/**
 * The control plane (SPEC §3), on the main thread. Validates the seven
 * control messages, sets flags in the state (persisted before answering),
 * and answers with the original daemon's plain objects. It never performs a
 * state-machine transition: the lifecycle scheduler consumes the flags.
 */
import type { ControlMessage } from './envelope.js';
import type { StateData, StateStore } from './state.js';

export type ControlReply = Record<string, unknown>;

/** Live metrics `status` adds under keys of its own. */
export type MetricsSource = () => Record<string, unknown>;

const SLEEPING = new Set(['SLEEP', 'DREAMING', 'TRANSITIONING']);

/** Clips to `max` characters (code points, as the original counts them). */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  return Array.from(s).slice(0, max).join('');
}

function invalid(error: string): ControlReply {
  return { ok: false, reason: 'invalid_message', error };
}

function requireString(msg: ControlMessage, key: string): string | ControlReply {
  const v = msg[key];
  return typeof v === 'string' ? v : invalid(`${key} must be a string`);
}

function optionalString(msg: ControlMessage, key: string): string | null | ControlReply {
  const v = msg[key];
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : invalid(`${key} must be a string`);
}

function optionalSeconds(msg: ControlMessage): ControlReply | null {
  const v = msg.seconds;
  if (v === undefined || v === null) return null;
  return typeof v === 'number' && Number.isInteger(v) ? null : invalid('seconds must be an integer');
}

/** Keeps the `max` newest entries of a map of ISO timestamps (a flood can't outgrow it between ticks). */
function capOldest(map: Record<string, unknown>, max: number): Record<string, unknown> {
  const keys = Object.keys(map);
  if (keys.length <= max) return map;
  const newest = keys.sort((a, b) => String(map[b]).localeCompare(String(map[a]))).slice(0, max);
  return Object.fromEntries(newest.map((k) => [k, map[k]]));
}

const isReply = (v: unknown): v is ControlReply => v !== null && typeof v === 'object';

export interface ControlPlaneDeps {
  readonly state: StateStore;
  /** Most `first_turn_pending` entries kept (the scheduler also prunes by age). */
  readonly firstTurnMax: number;
  readonly version: string;
  readonly metrics: MetricsSource;
  readonly now?: () => Date;
}

/** Answers control messages; every mutation is on disk before the reply. */
export class ControlPlane {
  readonly #deps: ControlPlaneDeps;
  readonly #now: () => Date;

  constructor(deps: ControlPlaneDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
  }

  /** Handles one control message. Never throws. */
  async handle(msg: ControlMessage): Promise<ControlReply> {
    try {
      return await this.#handle(msg);
    } catch (err) {
      return { ok: false, reason: 'control_plane_error', error: String((err as Error)?.message ?? err).slice(0, 200) };
    }
  }

  async #mutate(fn: (s: StateData) => ControlReply): Promise<ControlReply> {
    try {
      return await this.#deps.state.update(fn);
    } catch (err) {
      return { ok: false, reason: 'state_write_failed', error: String((err as Error)?.message ?? err).slice(0, 200) };
    }
  }

  #handle(msg: ControlMessage): Promise<ControlReply> | ControlReply {
    const now = this.#now().toISOString();
    switch (msg.type) {
      case 'status':
        return this.status();
      case 'user_initiated_sleep': {
        const reason = requireString(msg, 'reason');
        if (isReply(reason)) return reason;
        const ts = requireString(msg, 'ts');
        if (isReply(ts)) return ts;
        return this.#mutate((s) => {
          if (SLEEPING.has(String(s.fsm_state ?? 'WAKE'))) return { ok: false, reason: 'already_sleeping' };
          s.user_sleep_request = { reason: clip(reason, 500), ts, pending: true };
          return { ok: true, state: 'TRANSITIONING' };
        });
      }
      case 'force_wake':
      case 'force_rem': {
        const ts = requireString(msg, 'ts');
        if (isReply(ts)) return ts;
        const wake = msg.type === 'force_wake';
        return this.#mutate((s) => {
          s[wake ? 'force_wake_request' : 'force_rem_request'] = { ts, pending: true };
          return { ok: true, reason: wake ? 'wake_queued' : 'rem_queued' };
        });
      }
      case 'pause':
      case 'resume': {
        const bad = optionalSeconds(msg);
        if (bad) return bad;
        const paused = msg.type === 'pause';
        return this.#mutate((s) => {
          s.scheduler_paused = paused;
          return { ok: true, paused };
        });
      }
      case 'session_open': {
        const sid = optionalString(msg, 'session_id');
        if (isReply(sid)) return sid;
        const ts = optionalString(msg, 'ts');
        if (isReply(ts)) return ts;
        const sessionId = sid === null ? null : clip(sid, 128);
        const when = ts ?? now;
        return this.#mutate((s) => {
          s.last_session_open = { session_id: sessionId, ts: when };
          if (sessionId !== null) {
            const pending = (s.first_turn_pending && typeof s.first_turn_pending === 'object' ? s.first_turn_pending : {}) as Record<string, unknown>;
            pending[sessionId] = now;
            s.first_turn_pending = capOldest(pending, this.#deps.firstTurnMax);
          }
          s.hippea_cascade_request = { session_id: sessionId, ts: when, pending: true };
          return { ok: true, reason: 'session_open_queued' };
        });
      }
      default:
        return invalid(`unknown control type: ${String(msg.type)}`);
    }
  }

  /** The `status` reply: the original's keys, then dispatchd's live metrics. */
  status(): ControlReply {
    const s = this.#deps.state.data;
    const fsm = typeof s.fsm_state === 'string' ? s.fsm_state : 'WAKE';
    const started = typeof s.daemon_started_at === 'string' ? s.daemon_started_at : null;
    const startedMs = started === null ? Number.NaN : Date.parse(started);
    return {
      ok: true,
      state: fsm,
      fsm_state: fsm,
      uptime_sec: Number.isNaN(startedMs) ? null : Math.max(0, Math.floor((this.#now().getTime() - startedMs) / 1000)),
      version: this.#deps.version,
      last_tick_at: s.last_tick_at ?? null,
      quiet_window: s.quiet_window ?? null,
      pending_digest: s.pending_digest ?? null,
      daemon_started_at: started,
      scheduler_paused: s.scheduler_paused === true,
      ...this.#deps.metrics(),
    };
  }
}
