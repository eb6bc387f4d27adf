/**
 * The control plane (SPEC §3), on the main thread. Validates the seven
 * control messages, sets flags in the state (persisted before answering),
 * and answers with the original daemon's plain objects. It never performs a
 * state-machine transition: the lifecycle scheduler consumes the flags.
 *
 * The original's rules: an optional field is absent only when its key is
 * absent (`null` is a value of the wrong type); a missing string becomes
 * `""`, never a value the daemon makes up.
 */
import type { ControlMessage } from '../wire/envelope.js';
import type { StateStore } from './state.js';
import { emptyMap, isJsonObject, trimFirstTurn, type DaemonState, type FirstTurnBounds, type Json } from './statedata.js';
import type { DaemonMetrics, OriginalStatus, PendingDigest } from './status-reply.js';

/** A reply other than `status`'s: `ok`, and a `reason`, `error`, `state` or `paused`. */
export type ControlReply = Record<string, unknown>;

const SLEEPING: ReadonlySet<string> = new Set(['SLEEP', 'DREAMING', 'TRANSITIONING']);

/** Longest session id kept, in characters (code points, as the original counts them). */
export const SESSION_ID_MAX = 128;

/** Clips to `max` characters (code points, as the original counts them). */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  return Array.from(s).slice(0, max).join('');
}

/** A validation failure, as the reply the client gets. */
class Invalid {
  readonly reply: ControlReply;
  constructor(error: string) {
    this.reply = { ok: false, reason: 'invalid_message', error };
  }
}

const has = (msg: ControlMessage, key: string): boolean => Object.hasOwn(msg, key);

function requireString(msg: ControlMessage, key: string): string | Invalid {
  const v = has(msg, key) ? msg[key] : undefined;
  return typeof v === 'string' ? v : new Invalid(`${key} must be a string`);
}

/** An optional string: absent → `""`; present (even null) must be a string. */
function optionalString(msg: ControlMessage, key: string): string | Invalid {
  if (!has(msg, key)) return '';
  const v = msg[key];
  return typeof v === 'string' ? v : new Invalid(`${key} must be a string`);
}

/** What the line's text says that its parsed value cannot (see `envelope.ts`). */
export interface ControlSyntax {
  /** `seconds` was written with a fraction or an exponent (`1.0`, `1e2`). */
  readonly floatSeconds?: boolean;
}

/**
 * Optional `seconds`: an int as the original (Python) reads JSON — JSON `true`, `null`, and a
 * number written with a fraction or exponent (`1.0`, `1e2`: a float there) are not ints.
 */
function checkSeconds(msg: ControlMessage, syntax: ControlSyntax): Invalid | null {
  if (!has(msg, 'seconds')) return null;
  const v = msg.seconds;
  return typeof v === 'number' && Number.isInteger(v) && syntax.floatSeconds !== true ? null : new Invalid('seconds must be an int');
}

/** The four counters `status` shows of a pending digest, with the original's defaults. */
function digest(d: Json | undefined): PendingDigest | null {
  if (!isJsonObject(d)) return null;
  const pick = (key: string, fallback: Json): Json => (Object.hasOwn(d, key) ? (d[key] ?? null) : fallback);
  return {
    rem_cycles_completed: pick('rem_cycles_completed', 0),
    episodes_processed: pick('episodes_processed', 0),
    schemas_induced_tier0: pick('schemas_induced_tier0', 0),
    claude_call_used: pick('claude_call_used', false),
  };
}

/** `M`: the live metrics `status` adds after the original's keys (the daemon's: `DaemonMetrics`). */
export interface ControlPlaneDeps<M extends object> {
  readonly state: StateStore;
  /** Bounds of `first_turn_pending`, applied on every insert (the scheduler also applies them each tick). */
  readonly firstTurn: FirstTurnBounds;
  readonly version: string;
  readonly metrics: () => M;
  readonly now?: () => Date;
}

const message = (err: unknown): string => String(err instanceof Error ? err.message : err).slice(0, 200);

/** Answers control messages; every mutation is on disk before the reply. */
export class ControlPlane<M extends object = DaemonMetrics> {
  readonly #deps: ControlPlaneDeps<M>;
  readonly #now: () => Date;

  constructor(deps: ControlPlaneDeps<M>) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
  }

  /** Handles one control message. Never throws. */
  async handle(msg: ControlMessage, syntax: ControlSyntax = {}): Promise<ControlReply | (OriginalStatus & M)> {
    try {
      const r = await this.#handle(msg, syntax);
      return r instanceof Invalid ? r.reply : r;
    } catch (err) {
      return { ok: false, reason: 'control_plane_error', error: message(err) };
    }
  }

  async #mutate(fn: (s: DaemonState) => ControlReply): Promise<ControlReply> {
    try {
      return await this.#deps.state.update(fn);
    } catch (err) {
      return { ok: false, reason: 'state_write_failed', error: message(err) };
    }
  }

  #handle(msg: ControlMessage, syntax: ControlSyntax): Promise<ControlReply> | ControlReply | (OriginalStatus & M) | Invalid {
    switch (msg.type) {
      case 'status':
        return this.status();
      case 'user_initiated_sleep': {
        const reason = requireString(msg, 'reason');
        if (reason instanceof Invalid) return reason;
        const ts = requireString(msg, 'ts');
        if (ts instanceof Invalid) return ts;
        return this.#mutate((s) => {
          if (SLEEPING.has(s.fsm_state ?? 'WAKE')) return { ok: false, reason: 'already_sleeping' };
          s.user_sleep_request = { reason: clip(reason, 500), ts, pending: true };
          return { ok: true, state: 'TRANSITIONING' };
        });
      }
      case 'force_wake':
      case 'force_rem': {
        const ts = requireString(msg, 'ts');
        if (ts instanceof Invalid) return ts;
        if (msg.type === 'force_wake') {
          return this.#mutate((s) => {
            s.force_wake_request = { ts, pending: true };
            return { ok: true, reason: 'wake_queued' };
          });
        }
        return this.#mutate((s) => {
          s.force_rem_request = { ts, pending: true };
          return { ok: true, reason: 'rem_queued' };
        });
      }
      case 'pause':
      case 'resume': {
        const bad = checkSeconds(msg, syntax);
        if (bad) return bad;
        const paused = msg.type === 'pause';
        return this.#mutate((s) => {
          s.scheduler_paused = paused;
          return { ok: true, paused };
        });
      }
      case 'session_open': {
        const sid = optionalString(msg, 'session_id');
        if (sid instanceof Invalid) return sid;
        const ts = optionalString(msg, 'ts');
        if (ts instanceof Invalid) return ts;
        const sessionId = clip(sid, SESSION_ID_MAX);
        const now = this.#now();
        return this.#mutate((s) => {
          s.last_session_open = { session_id: sessionId, ts };
          const pending = s.first_turn_pending ?? emptyMap<string>();
          pending[sessionId] = now.toISOString();
          s.first_turn_pending = trimFirstTurn(pending, now.getTime(), this.#deps.firstTurn);
          s.hippea_cascade_request = { session_id: sessionId, ts, pending: true };
          return { ok: true, reason: 'session_open_queued' };
        });
      }
      default:
        return new Invalid(`unknown control type: ${String(msg.type)}`);
    }
  }

  /** The `status` reply: the original's keys, then dispatchd's live metrics. */
  status(): OriginalStatus & M {
    const s = this.#deps.state.data;
    const fsm = s.fsm_state ?? 'WAKE';
    const started = s.daemon_started_at ?? null;
    const startedMs = started === null ? Number.NaN : Date.parse(started);
    return {
      ok: true,
      state: fsm,
      fsm_state: fsm,
      uptime_sec: Number.isNaN(startedMs) ? null : Math.max(0, (this.#now().getTime() - startedMs) / 1000),
      version: this.#deps.version,
      last_tick_at: s.last_tick_at ?? null,
      quiet_window: s.quiet_window ?? null,
      pending_digest: digest(s.pending_digest),
      daemon_started_at: started,
      scheduler_paused: s.scheduler_paused === true,
      ...this.#deps.metrics(),
    };
  }
}
