/**
 * What `state.json` holds (SPEC §3, §4, §7): the `DaemonState` type, its one
 * parse at load (known keys checked, unknown keys kept and written back,
 * values of the wrong type reported and reset), the copy a mutation works
 * on, the text written to disk, and the one trim of `first_turn_pending`.
 * Maps keyed by client input are null-prototype objects, so a key such as
 * `__proto__` or `constructor` is stored like any other. No I/O here.
 */

export type FsmState = 'WAKE' | 'TRANSITIONING' | 'SLEEP' | 'DREAMING';
const FSM_STATES: ReadonlySet<string> = new Set<FsmState>(['WAKE', 'TRANSITIONING', 'SLEEP', 'DREAMING']);

/** A JSON value as read from disk. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
/** A JSON object; a null-prototype object when this module made it. */
export type JsonMap = { [key: string]: Json };

export interface SleepRequest {
  reason: string;
  ts: string;
  pending: boolean;
}
export interface TimedRequest {
  ts: string;
  pending: boolean;
}
export interface SessionOpen {
  readonly session_id: string;
  readonly ts: string;
}
export interface CascadeRequest {
  session_id: string;
  ts: string;
  pending: boolean;
}
export interface CycleRecord {
  readonly started_at: string;
  readonly duration_ms: number;
  readonly outcome: 'ok' | 'error' | 'skipped';
  readonly detail?: Json;
}

/** session id → ISO time of its `session_open`; a null-prototype object. */
export type SessionTimes = { [sessionId: string]: string };

/** The control-plane state. Absent keys mean "never set". */
export interface DaemonState {
  fsm_state?: FsmState;
  scheduler_paused?: boolean;
  user_sleep_request?: SleepRequest;
  force_wake_request?: TimedRequest;
  force_rem_request?: TimedRequest;
  last_session_open?: SessionOpen;
  first_turn_pending?: SessionTimes;
  hippea_cascade_request?: CascadeRequest;
  /** Written by a maintenance module; `status` shows four counters of it. */
  pending_digest?: Json;
  quiet_window?: Json;
  last_tick_at?: string;
  last_tick_skipped_reason?: string | null;
  daemon_started_at?: string;
  daemon_stopped_at?: string;
  daemon_pid?: number;
  last_cycle?: CycleRecord;
  /** Keys this daemon does not know, as they were read. */
  readonly others: JsonMap;
}

type KnownKey = Exclude<keyof DaemonState, 'others'>;

/** A null-prototype object: any string is an ordinary key. */
export function emptyMap<T>(): { [key: string]: T } {
  return Object.create(null) as { [key: string]: T };
}

const BAD = Symbol('wrong type');
type Checked<T> = T | typeof BAD;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A JSON object (not an array, not null). */
export const isJsonObject = (v: Json | undefined): v is { readonly [key: string]: Json } => isObject(v);
const str = (v: unknown): Checked<string> => (typeof v === 'string' ? v : BAD);
const bool = (v: unknown): Checked<boolean> => (typeof v === 'boolean' ? v : BAD);
const json = (v: unknown): Checked<Json> => (v === undefined ? BAD : (v as Json));

/** An object whose listed fields all pass their checks; other fields are dropped. */
function record<T>(fields: { [K in keyof T]: (v: unknown) => Checked<T[K]> }): (v: unknown) => Checked<T> {
  return (v) => {
    if (!isObject(v)) return BAD;
    const out: Partial<T> = {};
    for (const k of Object.keys(fields) as (keyof T)[]) {
      const got = fields[k](v[k as string]);
      if (got === BAD) return BAD;
      out[k] = got;
    }
    return out as T;
  };
}

const CYCLE_OUTCOMES: ReadonlySet<string> = new Set(['ok', 'error', 'skipped']);

const CHECKS: { readonly [K in KnownKey]-?: (v: unknown) => Checked<NonNullable<DaemonState[K]> | (null extends DaemonState[K] ? null : never)> } = {
  fsm_state: (v) => (typeof v === 'string' && FSM_STATES.has(v) ? (v as FsmState) : BAD),
  scheduler_paused: bool,
  user_sleep_request: record<SleepRequest>({ reason: str, ts: str, pending: bool }),
  force_wake_request: record<TimedRequest>({ ts: str, pending: bool }),
  force_rem_request: record<TimedRequest>({ ts: str, pending: bool }),
  last_session_open: record<SessionOpen>({ session_id: str, ts: str }),
  first_turn_pending: (v) => {
    if (!isObject(v)) return BAD;
    const out = emptyMap<string>();
    for (const k of Object.keys(v)) {
      const t = v[k];
      if (typeof t !== 'string') return BAD;
      out[k] = t;
    }
    return out;
  },
  hippea_cascade_request: record<CascadeRequest>({ session_id: str, ts: str, pending: bool }),
  pending_digest: json,
  quiet_window: json,
  last_tick_at: str,
  last_tick_skipped_reason: (v) => (v === null || typeof v === 'string' ? v : BAD),
  daemon_started_at: str,
  daemon_stopped_at: str,
  daemon_pid: (v) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : BAD),
  last_cycle: (v) => {
    if (!isObject(v) || typeof v.started_at !== 'string' || typeof v.duration_ms !== 'number') return BAD;
    if (typeof v.outcome !== 'string' || !CYCLE_OUTCOMES.has(v.outcome)) return BAD;
    const base = { started_at: v.started_at, duration_ms: v.duration_ms, outcome: v.outcome as CycleRecord['outcome'] };
    return v.detail === undefined ? base : { ...base, detail: v.detail as Json };
  },
};

const KNOWN_KEYS = Object.keys(CHECKS) as KnownKey[];
const isKnown = (k: string): k is KnownKey => Object.hasOwn(CHECKS, k);

function setKnown<K extends KnownKey>(s: DaemonState, key: K, value: unknown): void {
  s[key] = value as DaemonState[K];
}

/** What `parseState` found: the state, and the known keys whose values were reset. */
export interface ParsedState {
  readonly state: DaemonState;
  readonly reset: readonly string[];
}

/** The one parse of what was read from disk (a JSON object). */
export function parseState(raw: Readonly<Record<string, unknown>>): ParsedState {
  const state: DaemonState = { others: emptyMap<Json>() };
  const reset: string[] = [];
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    if (!isKnown(key)) {
      state.others[key] = value as Json;
      continue;
    }
    const checked = CHECKS[key](value);
    if (checked === BAD) reset.push(key);
    else setKnown(state, key, checked);
  }
  return { state, reset };
}

/** A copy a mutation may change freely without touching `s`. */
export function cloneState(s: DaemonState): DaemonState {
  const out: DaemonState = { ...s, others: Object.assign(emptyMap<Json>(), s.others) };
  if (s.user_sleep_request) out.user_sleep_request = { ...s.user_sleep_request };
  if (s.force_wake_request) out.force_wake_request = { ...s.force_wake_request };
  if (s.force_rem_request) out.force_rem_request = { ...s.force_rem_request };
  if (s.hippea_cascade_request) out.hippea_cascade_request = { ...s.hippea_cascade_request };
  if (s.first_turn_pending) out.first_turn_pending = Object.assign(emptyMap<string>(), s.first_turn_pending);
  return out;
}

/** The file's text: unknown keys as they were, then the known ones. */
export function serializeState(s: DaemonState): string {
  const out: { [key: string]: unknown } = Object.assign(emptyMap<unknown>(), s.others);
  for (const key of KNOWN_KEYS) {
    if (s[key] !== undefined) out[key] = s[key];
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** Bounds of `first_turn_pending` (SPEC §6: per-session tables are bounded in bytes). */
export interface FirstTurnBounds {
  readonly firstTurnTtlMs: number;
  readonly firstTurnMax: number;
  readonly firstTurnMaxBytes: number;
}

/** Bytes one entry costs in the file: key and value as JSON strings, UTF-8. */
const entryBytes = (key: string, value: string): number => Buffer.byteLength(JSON.stringify(key)) + Buffer.byteLength(value) + 4;

/**
 * The one trim of `first_turn_pending`: drops entries older than the TTL or
 * with an unreadable time, then keeps the newest
 * (ties: the later key) within both the entry count and the byte bound,
 * in their original order. Returns `map` itself when nothing goes.
 */
export function trimFirstTurn(map: SessionTimes, now: number, b: FirstTurnBounds): SessionTimes {
  const keys = Object.keys(map);
  const live: { key: string; at: number; bytes: number }[] = [];
  let bytes = 0;
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i] as string;
    const value = map[key] as string;
    const at = Date.parse(value);
    if (!Number.isFinite(at) || now - at > b.firstTurnTtlMs) continue;
    const cost = entryBytes(key, value);
    bytes += cost;
    live.push({ key, at, bytes: cost });
  }
  if (live.length === keys.length && live.length <= b.firstTurnMax && bytes <= b.firstTurnMaxBytes) return map;
  // Stable sort on the reversed map order: among equal times, the later key wins.
  live.sort((x, y) => y.at - x.at);
  const kept = new Set<string>();
  let used = 0;
  for (const e of live) {
    if (kept.size >= b.firstTurnMax || used + e.bytes > b.firstTurnMaxBytes) break;
    used += e.bytes;
    kept.add(e.key);
  }
  const out = emptyMap<string>();
  for (const key of keys) if (kept.has(key)) out[key] = map[key] as string;
  return out;
}
