/**
 * The `status` reply as Prometheus text exposition (format 0.0.4, which
 * every Prometheus-compatible scraper reads): `dispatchd metrics` prints it
 * and the opt-in `--metrics-listen` endpoint serves it at /metrics.
 *
 * Written by hand rather than through prom-client: every value here is a
 * snapshot of counters the daemon already keeps, and prom-client's metric
 * objects only accumulate their own observations (a Summary cannot be set
 * from percentiles computed elsewhere). Names follow Prometheus conventions:
 * `dispatchd_` prefix, base units (seconds, bytes), `_total` on counters.
 * Latency is exported as summaries (quantiles 0.5/0.9/0.99 plus _count and
 * _sum) because that is what the daemon's HDR histograms report.
 */
import type { ConnectionsStatus, DeepPartial, PartialStatusReply } from '../lifecycle/status-reply.js';
import type { LatencySummary } from './metrics.js';

/** The Content-Type a scraper expects for this format. */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Readonly<Record<string, string>>;
type Sample = readonly [suffix: string, labels: Labels, value: number];

interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'summary';
  readonly help: string;
  readonly samples: readonly Sample[];
}

/** A finite number as one sample's value, or nothing. */
const num = (v: number | null | undefined): number | undefined => (v === null || v === undefined || !Number.isFinite(v) ? undefined : v);
const bool = (v: boolean | undefined): number | undefined => (v === undefined ? undefined : Number(v));
const epochSeconds = (v: string | null | undefined): number | undefined => {
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isFinite(t) ? t / 1000 : undefined;
};

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function render(families: readonly Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    if (f.samples.length === 0) continue;
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`);
    for (const [suffix, labels, value] of f.samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      out.push(`${f.name}${suffix}${l.length > 0 ? `{${l.join(',')}}` : ''} ${formatValue(value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** One sample without labels, or none when the status lacks the value. */
const one = (v: number | undefined): Sample[] => (v === undefined ? [] : [['', {}, v]]);
/** One sample per lane that status reported. */
const byLane = (slow: number | undefined, fast: number | undefined): Sample[] =>
  (
    [
      ['slow', num(slow)],
      ['fast', num(fast)],
    ] as const
  ).flatMap(([lane, v]): Sample[] => (v === undefined ? [] : [['', { lane }, v]]));

/** A status latency summary (milliseconds) as a Prometheus summary in seconds. */
function summary(s: DeepPartial<LatencySummary> | undefined): Sample[] {
  const count = num(s?.count);
  if (s === undefined || count === undefined) return [];
  const samples: Sample[] = [];
  for (const [q, key] of [['0.5', 'p50'], ['0.9', 'p90'], ['0.99', 'p99']] as const) {
    const ms = num(s[key]);
    if (ms !== undefined) samples.push(['', { quantile: q }, count === 0 ? Number.NaN : ms / 1000]);
  }
  const sum = num(s.sum);
  if (sum !== undefined) samples.push(['_sum', {}, sum / 1000]);
  samples.push(['_count', {}, count]);
  return samples;
}

/** Renders a `status` reply in Prometheus text format; a field the reply lacks (another version's) is left out. */
export function renderMetrics(status: PartialStatusReply): string {
  const pool = status.pool ?? {};
  // A stdio daemon's connections carry `active` only: a subset of a socket daemon's.
  const conns: DeepPartial<ConnectionsStatus> = status.connections ?? {};
  const sched = status.scheduler ?? {};
  const mem = status.memory ?? {};
  // A reply from another version may hold anything here: only an array is read.
  const methods = Array.isArray(pool.lanes?.methods) ? pool.lanes.methods : [];
  const fsm = status.fsm_state;
  const families: Family[] = [
    { name: 'dispatchd_info', type: 'gauge', help: 'Always 1; the version is a label.', samples: status.version === undefined ? [] : [['', { version: status.version }, 1]] },
    { name: 'dispatchd_start_time_seconds', type: 'gauge', help: 'When the daemon started, seconds since the Unix epoch.', samples: one(epochSeconds(status.daemon_started_at)) },
    { name: 'dispatchd_uptime_seconds', type: 'gauge', help: 'Seconds since the daemon started.', samples: one(num(status.uptime_sec)) },
    { name: 'dispatchd_calls_total', type: 'counter', help: 'JSON-RPC calls that ran to an answer (result or error).', samples: one(num(pool.completed)) },
    { name: 'dispatchd_call_errors_total', type: 'counter', help: 'Calls that ran and answered with an error.', samples: one(num(pool.failed)) },
    { name: 'dispatchd_calls_rejected_total', type: 'counter', help: 'Calls refused with -32003 because the pool queue was full.', samples: one(num(pool.rejected)) },
    { name: 'dispatchd_batches_total', type: 'counter', help: 'Hops to a worker (fast calls are sent in batches).', samples: one(num(pool.batches)) },
    { name: 'dispatchd_call_duration_seconds', type: 'summary', help: 'Run time of a call on its worker thread.', samples: summary(pool.run_ms) },
    { name: 'dispatchd_call_wait_seconds', type: 'summary', help: 'Time a call waited for a thread.', samples: summary(pool.wait_ms) },
    {
      name: 'dispatchd_method_calls_total',
      type: 'counter',
      help: 'Calls per method (the busiest methods status lists), with the lane each runs in.',
      samples: methods.flatMap((m): Sample[] => {
        const calls = num(m.calls);
        return m.method !== undefined && calls !== undefined ? [['', { method: m.method, lane: m.lane ?? '' }, calls]] : [];
      }),
    },
    {
      name: 'dispatchd_pool_threads',
      type: 'gauge',
      help: 'Worker threads, by lane (slow calls may use the slow ones; the fast reserve is kept for fast calls).',
      samples: byLane(pool.slow_threads, pool.fast_threads),
    },
    { name: 'dispatchd_pool_running', type: 'gauge', help: 'Tasks running on worker threads now.', samples: one(num(pool.running)) },
    {
      name: 'dispatchd_pool_queued',
      type: 'gauge',
      help: 'Calls waiting for a thread, by lane.',
      samples: byLane(pool.queued_slow, pool.queued_fast),
    },
    { name: 'dispatchd_pool_queue_limit', type: 'gauge', help: 'Calls that may wait before -32003 (--max-queue).', samples: one(num(pool.max_queue)) },
    { name: 'dispatchd_pool_utilization_ratio', type: 'gauge', help: 'Share of worker capacity in use (0-1).', samples: one(num(pool.utilization)) },
    { name: 'dispatchd_connections', type: 'gauge', help: 'Open client connections.', samples: one(num(conns.active)) },
    { name: 'dispatchd_connections_accepted_total', type: 'counter', help: 'Connections accepted since start.', samples: one(num(conns.accepted)) },
    { name: 'dispatchd_connections_refused_total', type: 'counter', help: 'Connections refused at --max-connections.', samples: one(num(conns.refused)) },
    { name: 'dispatchd_connections_limit', type: 'gauge', help: 'Simultaneous connections allowed (--max-connections).', samples: one(num(conns.max)) },
    { name: 'dispatchd_in_flight_requests', type: 'gauge', help: 'Requests received and not yet answered.', samples: one(num(status.in_flight)) },
    { name: 'dispatchd_last_activity_timestamp_seconds', type: 'gauge', help: 'Last line received from a client, seconds since the Unix epoch.', samples: one(epochSeconds(status.last_activity_ts)) },
    { name: 'dispatchd_fsm_state', type: 'gauge', help: 'Lifecycle state: 1 for the current one.', samples: fsm === undefined ? [] : [['', { state: fsm }, 1]] },
    { name: 'dispatchd_scheduler_paused', type: 'gauge', help: '1 while the lifecycle scheduler is paused.', samples: one(bool(status.scheduler_paused)) },
    { name: 'dispatchd_scheduler_sleep_running', type: 'gauge', help: '1 while a sleep (maintenance cycles) is running.', samples: one(bool(sched.running)) },
    { name: 'dispatchd_scheduler_cycles_total', type: 'counter', help: 'Maintenance cycles run since start.', samples: one(num(sched.cycles)) },
    { name: 'process_resident_memory_bytes', type: 'gauge', help: 'Resident set size of the daemon process.', samples: one(num(mem.rss_bytes)) },
    { name: 'dispatchd_heap_used_bytes', type: 'gauge', help: 'V8 heap in use on the main thread.', samples: one(num(mem.heap_used_bytes)) },
    { name: 'dispatchd_external_memory_bytes', type: 'gauge', help: 'Memory of C++ objects bound to JavaScript on the main thread.', samples: one(num(mem.external_bytes)) },
  ];
  return render(families);
}
