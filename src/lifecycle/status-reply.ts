/**
 * The `status` control reply as a type, built from the parts each owner
 * fills in, and `STATUS_FIELDS`, its keys at run time, which the compiler
 * holds to the type (`satisfies`) and a test holds to docs/protocol.md and
 * to a real daemon's reply. Types and one constant table: nothing here
 * measures or runs.
 *
 * The parts are built where their numbers live: the control plane (the
 * original's keys, `pending_digest`), the pool (`pool`, `pool-stats.ts`),
 * the server (`connections`), the scheduler (`scheduler`), the daemon
 * (`memory` and the rest of the live metrics), the event-loop reader.
 */
import type { Config } from '../config.js';
import type { LatencySummary } from '../observability/metrics.js';
import type { EventLoopHealth } from '../observability/loophealth.js';
import type { LanesStatus, MethodStatus, PoolStats } from '../pool/pool-stats.js';
import type { CycleRecord, FsmState, Json } from './statedata.js';

export type { Config, CycleRecord, EventLoopHealth, FsmState, Json, LanesStatus, LatencySummary, MethodStatus };
/** `status.pool`: the pool's counters and decisions (documented field by field in `pool-stats.ts`). */
export type PoolStatus = PoolStats;

/** The four counters `status` shows of a pending digest; each as stored, or its default. */
export interface PendingDigest {
  readonly rem_cycles_completed: Json;
  readonly episodes_processed: Json;
  readonly schemas_induced_tier0: Json;
  readonly claude_call_used: Json;
}

/** The original daemon's keys, in its order; the control plane fills them from the state. */
export interface OriginalStatus {
  readonly ok: true;
  /** The same as `fsm_state`. */
  readonly state: FsmState;
  readonly fsm_state: FsmState;
  /** Seconds since `daemon_started_at` (fractions kept), or null without one. */
  readonly uptime_sec: number | null;
  readonly version: string;
  readonly last_tick_at: string | null;
  readonly quiet_window: Json;
  readonly pending_digest: PendingDigest | null;
  readonly daemon_started_at: string | null;
  readonly scheduler_paused: boolean;
}

/** `status.connections` of a daemon serving a socket. */
export interface ConnectionsStatus {
  readonly active: number;
  /** Open connections that have carried JSON-RPC work (a `status` probe is not foreground). */
  readonly foreground: number;
  readonly accepted: number;
  readonly refused: number;
  /** Connections allowed now: `max_configured`, lowered to fit the fd limit. */
  readonly max: number;
  readonly max_configured: number;
  readonly fd_limit: number | null;
  readonly fd_reserve: number | null;
}

/** `status.connections` under `serve --stdio`: its one session. */
export type StdioConnectionsStatus = Pick<ConnectionsStatus, 'active'>;

/** `status.scheduler`: the lifecycle scheduler (SPEC §7). */
export interface SchedulerStatus {
  readonly tick_ms: number;
  /** True while a sleep (maintenance cycles) runs. */
  readonly running: boolean;
  readonly cycles: number;
  readonly last_cycle: CycleRecord | null;
  /** What the next sleep waits for, in words. */
  readonly waiting_for: string;
  readonly last_tick_skipped_reason: string | null;
}

/** `status.memory`: the daemon process, in bytes. */
export interface MemoryStatus {
  readonly rss_bytes: number;
  readonly heap_used_bytes: number;
  readonly external_bytes: number;
  /** Times the daemon gave memory back after a quiet spell (lifecycle/idle-release.ts). */
  readonly quiet_releases: number;
}

/** dispatchd's live metrics (SPEC §8), after the original's keys; the daemon takes them once per event-loop turn. */
export interface DaemonMetrics {
  readonly pid: number;
  readonly pool: PoolStatus;
  readonly connections: ConnectionsStatus | StdioConnectionsStatus;
  /** Requests received and not yet answered. */
  readonly in_flight: number;
  readonly last_activity_ts: string;
  readonly scheduler: SchedulerStatus;
  readonly memory: MemoryStatus;
  readonly event_loop: EventLoopHealth;
  /** The resolved options, `socket` being the socket actually served. */
  readonly config: Config;
}

/** The whole `{"type":"status"}` reply (docs/protocol.md, "status"). */
export type StatusReply = OriginalStatus & DaemonMetrics;

/** The reply a client gets over a socket: the daemon serves a socket, so `connections` is a socket server's. */
export type SocketStatusReply = StatusReply & { readonly connections: ConnectionsStatus };

/**
 * The keys of a part, nested where the part nests: a list's entry holds the
 * keys of its elements, a nullable part the keys it has when present. A
 * map keyed by client or user data (`lanes.declared`) and `config` (its
 * keys are the options, README "Options") are leaves.
 */
export type Fields<T> = { readonly [K in keyof T]-?: FieldOf<Exclude<T[K], null | undefined>> };
type FieldOf<V> = [V] extends [Json] ? true : [V] extends [Config] ? true : V extends readonly (infer E)[] ? Fields<E> : V extends object ? Fields<V> : true;

const LATENCY = { count: true, p50: true, p90: true, p99: true, max: true, sum: true } as const satisfies Fields<LatencySummary>;

const CONNECTIONS = {
  active: true,
  foreground: true,
  accepted: true,
  refused: true,
  max: true,
  max_configured: true,
  fd_limit: true,
  fd_reserve: true,
} as const satisfies Fields<ConnectionsStatus>;

const POOL = {
  module: true,
  threads_loaded: true,
  load_failures: true,
  load_failures_in_a_row: true,
  last_load_error: true,
  last_load_error_at: true,
  threads_in_native: true,
  reloads: true,
  reload_failures: true,
  last_reload_error: true,
  replaced_runners_finishing: true,
  recycled_after_calls: true,
  recycled_heap: true,
  threads: true,
  threads_started: true,
  threads_created: true,
  threads_retired_idle: true,
  threads_kept_warm: true,
  slow_threads: true,
  fast_threads: true,
  cpu_threads: true,
  running: true,
  running_cpu: true,
  running_wait: true,
  queue_size: true,
  queued_fast: true,
  queued_slow: true,
  held_new: true,
  max_queue: true,
  utilization: true,
  completed: true,
  failed: true,
  rejected: true,
  requeued: true,
  deadline_kills: true,
  batches: true,
  avg_batch: true,
  wait_ms: LATENCY,
  run_ms: LATENCY,
  lanes: {
    threshold_ms: true,
    cpu_bound_share: true,
    declared: true,
    methods_known: true,
    methods: { method: true, kind: true, lane: true, why: true, avg_run_ms: true, cpu_share: true, calls: true },
  },
} as const satisfies Fields<PoolStatus>;

/** Every key of a `status` reply, nested as the reply nests (`connections`: a socket daemon's). */
export const STATUS_FIELDS = {
  ok: true,
  state: true,
  fsm_state: true,
  uptime_sec: true,
  version: true,
  last_tick_at: true,
  quiet_window: true,
  pending_digest: { rem_cycles_completed: true, episodes_processed: true, schemas_induced_tier0: true, claude_call_used: true },
  daemon_started_at: true,
  scheduler_paused: true,
  pid: true,
  pool: POOL,
  connections: CONNECTIONS,
  in_flight: true,
  last_activity_ts: true,
  scheduler: {
    tick_ms: true,
    running: true,
    cycles: true,
    last_cycle: { started_at: true, duration_ms: true, outcome: true, detail: true },
    waiting_for: true,
    last_tick_skipped_reason: true,
  },
  memory: { rss_bytes: true, heap_used_bytes: true, external_bytes: true, quiet_releases: true },
  event_loop: { utilization: true, delay_p99_ms: true, delay_max_ms: true },
  config: true,
} as const satisfies Fields<StatusReply>;

/** `T` with every field optional, at every depth. */
export type DeepPartial<T> = T extends readonly (infer E)[] ? readonly DeepPartial<E>[] : T extends object ? { readonly [K in keyof T]?: DeepPartial<T[K]> } : T;

/** A `status` reply as a reader may meet it: a field this version has may be missing from another version's reply. */
export type PartialStatusReply = DeepPartial<StatusReply>;
