/**
 * Options, validated and defaulted once. `resolveConfig(input, env)` is the
 * only place that reads environment variables; the frozen result is passed
 * down to every other module and shown by `status`.
 */
import { availableParallelism, homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** Log levels pino understands, from noisiest to quietest. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** Home directory: lock, state file, default socket, built-in store. */
  readonly home: string;
  /** Unix socket path (ignored when socket-activated). */
  readonly socket: string;
  /** Absolute path of the dispatch module, or null for the built-in one. */
  readonly dispatch: string | null;
  /** Worker threads slow calls may occupy (calls that block may use them all). */
  readonly threads: number;
  /** Slow CPU-bound calls at once (so they never oversubscribe the cores). */
  readonly cpuThreads: number;
  /** Largest result a call may return, in bytes of JSON, before -32001. */
  readonly maxResultBytes: number;
  /** A worker thread idle this long retires (ms). */
  readonly threadIdleMs: number;
  /** Extra worker threads kept for fast calls (0: no reserve). */
  readonly fastThreads: number;
  /** Run time (ms) above which an undeclared method counts as slow. */
  readonly laneThresholdMs: number;
  /** Most fast calls sent to a worker in one hop. */
  readonly maxBatch: number;
  /** CPU niceness of slow-call threads (Linux, piscina's niceIncrement); 0 = same priority as the rest of the machine. */
  readonly slowNice: number;
  /** Calls waiting for a thread, across all connections, before -32003. */
  readonly maxQueue: number;
  /** Requests one connection may have in flight before reading pauses. */
  readonly maxInFlight: number;
  /** Longest accepted line, in bytes, before -32600. */
  readonly maxLineBytes: number;
  /** Simultaneous connections; the next one gets one error line. */
  readonly maxConnections: number;
  /** Bytes a connection may have queued for writing before reading pauses. */
  readonly maxWriteBuffer: number;
  /** How long a client may leave its responses unread before it is dropped (ms). */
  readonly slowReaderTimeoutMs: number;
  /** Per-call deadline (ms); 0 turns it off. */
  readonly callDeadlineMs: number;
  /** How long a graceful stop waits for in-flight calls (ms). */
  readonly drainTimeoutMs: number;
  /** Largest text the built-in store accepts, in bytes. */
  readonly storeMaxTextBytes: number;
  /** Per-worker V8 heap cap (MiB); 0 leaves Node's default. */
  readonly workerHeapMb: number;
  /** Lifecycle scheduler tick interval (ms). */
  readonly tickMs: number;
  /** No connection and no activity this long counts as idle (ms). */
  readonly idleMs: number;
  /** Least time between two idle sleeps (ms). */
  readonly sleepEveryMs: number;
  /** Maintenance cycles per sleep. */
  readonly sleepCycles: number;
  /** first_turn_pending entries older than this are pruned (ms). */
  readonly firstTurnTtlMs: number;
  /** At most this many first_turn_pending entries are kept. */
  readonly firstTurnMax: number;
  readonly logLevel: LogLevel;
  readonly pretty: boolean;
  /** Serve NDJSON on stdin/stdout instead of the socket. */
  readonly stdio: boolean;
  /** Run dispatch on the main thread (benchmark comparison only). */
  readonly inline: boolean;
}

/** A field of the config: how to read it from env/flags and what it defaults to. */
interface FieldSpec {
  readonly env: string;
  readonly flag: string;
  readonly kind: 'path' | 'int' | 'bool' | 'level' | 'string';
  readonly help: string;
  readonly min?: number;
}

export type ConfigInput = Partial<Record<keyof Config, string | number | boolean | null>>;

const cores = Math.max(1, availableParallelism());

/** Defaults, in one object. `home`-relative ones are derived in resolveConfig. */
export const DEFAULTS = Object.freeze({
  home: join(homedir(), '.dispatchd'),
  socket: '', // derived: <home>/daemon.sock
  dispatch: null as string | null,
  // Blocking calls side by side like asyncio.to_thread (min(32, cores + 4)), and at least 16.
  threads: Math.min(32, Math.max(16, cores + 4)),
  cpuThreads: cores,
  maxResultBytes: 8 * 1024 * 1024,
  threadIdleMs: 30_000,
  fastThreads: 1,
  laneThresholdMs: 10,
  maxBatch: 64,
  slowNice: 0,
  maxQueue: 4096,
  maxInFlight: 32,
  maxLineBytes: 1024 * 1024,
  maxConnections: 1024,
  maxWriteBuffer: 8 * 1024 * 1024,
  slowReaderTimeoutMs: 30_000,
  callDeadlineMs: 0,
  drainTimeoutMs: 10_000,
  workerHeapMb: 0,
  storeMaxTextBytes: 512 * 1024,
  tickMs: 5000,
  idleMs: 60_000,
  sleepEveryMs: 600_000,
  sleepCycles: 1,
  firstTurnTtlMs: 86_400_000,
  firstTurnMax: 1000,
  logLevel: 'info' as LogLevel,
  pretty: false,
  stdio: false,
  inline: false,
});

/** Every option: its flag, its environment variable, its meaning. */
export const FIELDS: Readonly<Record<keyof Config, FieldSpec>> = Object.freeze({
  home: { env: 'DISPATCHD_HOME', flag: '--home', kind: 'path', help: 'home directory (lock, state, socket, store)' },
  socket: { env: 'DISPATCHD_SOCKET', flag: '--socket', kind: 'path', help: 'unix socket path (default <home>/daemon.sock)' },
  dispatch: { env: 'DISPATCHD_DISPATCH', flag: '--dispatch', kind: 'path', help: 'dispatch module (default: built-in)' },
  threads: { env: 'DISPATCHD_THREADS', flag: '--threads', kind: 'int', min: 1, help: 'worker threads slow calls may occupy (blocking calls may use them all)' },
  cpuThreads: { env: 'DISPATCHD_CPU_THREADS', flag: '--cpu-threads', kind: 'int', min: 1, help: 'slow CPU-bound calls at once (default: cores)' },
  maxResultBytes: { env: 'DISPATCHD_MAX_RESULT_BYTES', flag: '--max-result-bytes', kind: 'int', min: 16, help: 'largest result in bytes of JSON before -32001' },
  threadIdleMs: { env: 'DISPATCHD_THREAD_IDLE_MS', flag: '--thread-idle-ms', kind: 'int', min: 1, help: 'ms an idle worker thread waits before it retires' },
  fastThreads: { env: 'DISPATCHD_FAST_THREADS', flag: '--fast-threads', kind: 'int', min: 0, help: 'extra threads kept for fast calls (0 = no reserve)' },
  laneThresholdMs: { env: 'DISPATCHD_LANE_THRESHOLD_MS', flag: '--lane-threshold-ms', kind: 'int', min: 0, help: 'average run time (ms) above which an undeclared method is slow' },
  maxBatch: { env: 'DISPATCHD_MAX_BATCH', flag: '--max-batch', kind: 'int', min: 1, help: 'most fast calls sent to a worker in one hop' },
  slowNice: { env: 'DISPATCHD_SLOW_NICE', flag: '--slow-nice', kind: 'int', min: 0, help: 'CPU niceness of slow-call threads, Linux (0 = normal priority, the default)' },
  maxQueue: { env: 'DISPATCHD_MAX_QUEUE', flag: '--max-queue', kind: 'int', min: 1, help: 'calls waiting for a thread before -32003' },
  maxInFlight: { env: 'DISPATCHD_MAX_IN_FLIGHT', flag: '--max-in-flight', kind: 'int', min: 1, help: 'requests in flight per connection' },
  maxLineBytes: { env: 'DISPATCHD_MAX_LINE_BYTES', flag: '--max-line-bytes', kind: 'int', min: 64, help: 'longest request line in bytes' },
  maxConnections: { env: 'DISPATCHD_MAX_CONNECTIONS', flag: '--max-connections', kind: 'int', min: 1, help: 'simultaneous connections' },
  maxWriteBuffer: { env: 'DISPATCHD_MAX_WRITE_BUFFER', flag: '--max-write-buffer', kind: 'int', min: 1024, help: 'unsent response bytes per connection before reading pauses' },
  slowReaderTimeoutMs: { env: 'DISPATCHD_SLOW_READER_TIMEOUT_MS', flag: '--slow-reader-timeout-ms', kind: 'int', min: 1, help: 'ms a client may leave responses unread before it is dropped' },
  callDeadlineMs: { env: 'DISPATCHD_CALL_DEADLINE_MS', flag: '--call-deadline-ms', kind: 'int', min: 0, help: 'per-call deadline in ms (0 = off)' },
  drainTimeoutMs: { env: 'DISPATCHD_DRAIN_TIMEOUT_MS', flag: '--drain-timeout-ms', kind: 'int', min: 0, help: 'ms a graceful stop waits for in-flight calls' },
  storeMaxTextBytes: { env: 'DISPATCHD_STORE_MAX_TEXT_BYTES', flag: '--store-max-text-bytes', kind: 'int', min: 1, help: 'largest text the built-in store accepts (bytes)' },
  workerHeapMb: { env: 'DISPATCHD_WORKER_HEAP_MB', flag: '--worker-heap-mb', kind: 'int', min: 0, help: 'V8 heap cap per worker in MiB (0 = Node default)' },
  tickMs: { env: 'DISPATCHD_TICK_MS', flag: '--tick-ms', kind: 'int', min: 10, help: 'lifecycle scheduler tick interval (ms)' },
  idleMs: { env: 'DISPATCHD_IDLE_MS', flag: '--idle-ms', kind: 'int', min: 0, help: 'no connection and no activity this long is idle (ms)' },
  sleepEveryMs: { env: 'DISPATCHD_SLEEP_EVERY_MS', flag: '--sleep-every-ms', kind: 'int', min: 0, help: 'least time between two idle sleeps (ms)' },
  sleepCycles: { env: 'DISPATCHD_SLEEP_CYCLES', flag: '--sleep-cycles', kind: 'int', min: 1, help: 'maintenance cycles per sleep' },
  firstTurnTtlMs: { env: 'DISPATCHD_FIRST_TURN_TTL_MS', flag: '--first-turn-ttl-ms', kind: 'int', min: 0, help: 'first_turn_pending entries older than this are pruned (ms)' },
  firstTurnMax: { env: 'DISPATCHD_FIRST_TURN_MAX', flag: '--first-turn-max', kind: 'int', min: 1, help: 'most first_turn_pending entries kept' },
  logLevel: { env: 'DISPATCHD_LOG_LEVEL', flag: '--log-level', kind: 'level', help: `log level (${LOG_LEVELS.join('|')})` },
  pretty: { env: 'DISPATCHD_PRETTY', flag: '--pretty', kind: 'bool', help: 'human-readable logs (default when stderr is a TTY)' },
  stdio: { env: 'DISPATCHD_STDIO', flag: '--stdio', kind: 'bool', help: 'serve NDJSON on stdin/stdout instead of the socket' },
  inline: { env: 'DISPATCHD_INLINE', flag: '--inline', kind: 'bool', help: 'run dispatch on the main thread (benchmark comparison only)' },
});

/** An option that failed validation; the message names the option. */
export class ConfigError extends Error {
  override get name(): string {
    return 'ConfigError';
  }
}

function parseField(key: keyof Config, spec: FieldSpec, raw: string | number | boolean | null, cwd: string): unknown {
  const where = `${spec.flag} / ${spec.env}`;
  switch (spec.kind) {
    case 'path': {
      if (raw === null) return null;
      if (typeof raw !== 'string' || raw.length === 0) throw new ConfigError(`${where}: expected a path, got ${JSON.stringify(raw)}`);
      const expanded = raw === '~' || raw.startsWith('~/') ? join(homedir(), raw.slice(1)) : raw;
      return isAbsolute(expanded) ? expanded : resolve(cwd, expanded);
    }
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(n)) throw new ConfigError(`${where}: expected an integer, got ${JSON.stringify(raw)}`);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(`${where}: must be >= ${spec.min}, got ${n}`);
      return n;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on', ''].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      throw new ConfigError(`${where}: expected a boolean, got ${JSON.stringify(raw)}`);
    }
    case 'level': {
      const s = String(raw);
      if (!(LOG_LEVELS as readonly string[]).includes(s)) throw new ConfigError(`${where}: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`);
      return s;
    }
    case 'string':
      return String(raw);
  }
  throw new ConfigError(`unknown option kind for ${key}`);
}

/**
 * Builds the frozen config: explicit `input` (flags) wins over `env`, which
 * wins over DEFAULTS. Unknown keys are rejected.
 */
export function resolveConfig(input: ConfigInput = {}, env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): Config {
  const out: Record<string, unknown> = { ...DEFAULTS };
  for (const key of Object.keys(input)) {
    if (!(key in FIELDS)) throw new ConfigError(`unknown option: ${key}`);
  }
  for (const key of Object.keys(FIELDS) as (keyof Config)[]) {
    const spec = FIELDS[key];
    const fromInput = input[key];
    const fromEnv = env[spec.env];
    if (fromInput !== undefined) out[key] = parseField(key, spec, fromInput, cwd);
    else if (fromEnv !== undefined && fromEnv !== '') out[key] = parseField(key, spec, fromEnv, cwd);
  }
  // Derived: the socket lives in the home unless named.
  if (!out.socket) out.socket = join(out.home as string, 'daemon.sock');
  return Object.freeze(out) as unknown as Config;
}
