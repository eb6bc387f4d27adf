/**
 * Options, validated and defaulted once. `resolveConfig(input, env)` is the
 * only place that reads environment variables; the frozen result is passed
 * down to every other module and shown by `status`.
 *
 * Why one file of ~300 lines: the `Config` type, `DEFAULTS` and `FIELDS` are
 * three views of the same options, one line each, kept side by side so an
 * option is added in one place and checked against the docs from one table
 * (test/docs.test.ts); the rest is what each field kind accepts.
 */
import { availableParallelism, homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { createRequire, isBuiltin } from 'node:module';
import { STORE_BINDINGS, type StoreBinding } from './contract/contract.js';

/** Log levels pino understands, from noisiest to quietest. */
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export { STORE_BINDINGS, type StoreBinding } from './contract/contract.js';

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
  /** Slow-call threads kept however quiet the daemon is. */
  readonly quietThreads: number;
  /**
   * Give memory back after a quiet spell (a full GC and malloc_trim;
   * lifecycle/idle-release.ts). auto: on when the daemon has the process to
   * itself (`dispatchd serve`), off when embedded (the GC would pause the host).
   */
  readonly quietRelease: 'auto' | 'on' | 'off';
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
  /** Most elements in one batch; a longer batch is one -32600. */
  readonly maxBatchLength: number;
  /** Deepest nesting of objects and arrays in one request (alone or in a batch); deeper is -32600 for it alone. */
  readonly maxDepth: number;
  /** Longest method name, in UTF-8 bytes; longer is -32600. */
  readonly maxMethodBytes: number;
  /** Bytes answered for one line; past them each further answer is a small -32001. */
  readonly maxReplyBytes: number;
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
  /** Which SQLite binding the built-in store uses (docs/sqlite-binding.md). */
  readonly storeBinding: StoreBinding;
  /** How long the dispatch module may take to load in a worker at start (ms). */
  readonly dispatchLoadTimeoutMs: number;
  /** Per-worker V8 heap cap (MiB); 0 leaves Node's default. */
  readonly workerHeapMb: number;
  /** A thread retires after this many calls, between tasks (0: never). */
  readonly recycleCalls: number;
  /** A thread retires once its V8 heap in use passes this many MiB after a task (0: never). */
  readonly recycleHeapMb: number;
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
  /** first_turn_pending never holds more than this many bytes of keys and times. */
  readonly firstTurnMaxBytes: number;
  readonly logLevel: LogLevel;
  readonly pretty: boolean;
  /** Serve NDJSON on stdin/stdout instead of the socket. */
  readonly stdio: boolean;
  /** Run dispatch on the main thread (benchmark comparison only). */
  readonly inline: boolean;
  /** Serve /metrics over HTTP here: `127.0.0.1:PORT`, `[::1]:PORT`, or a unix socket path; null = off. */
  readonly metricsListen: string | null;
}

/** A field of the config: how to read it from env/flags and what it defaults to. */
interface FieldSpec {
  readonly env: string;
  readonly flag: string;
  readonly kind: 'path' | 'int' | 'bool' | 'level' | 'listen' | 'choice';
  /** The values a `choice` takes. */
  readonly choices?: readonly string[];
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
  // An idle daemon is the process and two threads (this one and the fast reserve): under 100 MiB
  // on every supported Node line; a call readies three slow threads (docs/pool.md, "Idle memory").
  quietThreads: 1,
  quietRelease: 'auto' as 'auto' | 'on' | 'off',
  laneThresholdMs: 10,
  maxBatch: 64,
  slowNice: 0,
  maxQueue: 4096,
  maxInFlight: 32,
  maxLineBytes: 1024 * 1024,
  maxBatchLength: 1000,
  maxDepth: 1000,
  maxMethodBytes: 256,
  maxReplyBytes: 16 * 1024 * 1024,
  maxConnections: 1024,
  maxWriteBuffer: 8 * 1024 * 1024,
  slowReaderTimeoutMs: 30_000,
  callDeadlineMs: 0,
  drainTimeoutMs: 10_000,
  workerHeapMb: 0,
  recycleCalls: 0,
  recycleHeapMb: 0,
  storeMaxTextBytes: 512 * 1024,
  storeBinding: 'auto' as StoreBinding,
  dispatchLoadTimeoutMs: 30_000,
  tickMs: 5000,
  idleMs: 60_000,
  sleepEveryMs: 600_000,
  sleepCycles: 1,
  firstTurnTtlMs: 86_400_000,
  firstTurnMax: 1000,
  firstTurnMaxBytes: 128 * 1024,
  logLevel: 'info' as LogLevel,
  pretty: false,
  stdio: false,
  inline: false,
  metricsListen: null as string | null,
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
  quietThreads: { env: 'DISPATCHD_QUIET_THREADS', flag: '--quiet-threads', kind: 'int', min: 1, help: 'slow-call threads kept however quiet the daemon is (a call readies three; more kept: a faster first burst, 10-14 MiB each)' },
  quietRelease: { env: 'DISPATCHD_QUIET_RELEASE', flag: '--quiet-release', kind: 'choice', choices: ['auto', 'on', 'off'], help: 'give memory back after a quiet spell: a full GC of the main thread and malloc_trim (auto: on under dispatchd serve, off when embedded)' },
  laneThresholdMs: { env: 'DISPATCHD_LANE_THRESHOLD_MS', flag: '--lane-threshold-ms', kind: 'int', min: 0, help: 'average run time (ms) above which an undeclared method is slow' },
  maxBatch: { env: 'DISPATCHD_MAX_BATCH', flag: '--max-batch', kind: 'int', min: 1, help: 'most fast calls sent to a worker in one hop' },
  slowNice: { env: 'DISPATCHD_SLOW_NICE', flag: '--slow-nice', kind: 'int', min: 0, help: 'CPU niceness of slow-call threads, Linux (0 = normal priority, the default)' },
  maxQueue: { env: 'DISPATCHD_MAX_QUEUE', flag: '--max-queue', kind: 'int', min: 1, help: 'calls waiting for a thread before -32003' },
  maxInFlight: { env: 'DISPATCHD_MAX_IN_FLIGHT', flag: '--max-in-flight', kind: 'int', min: 1, help: 'requests in flight per connection' },
  maxLineBytes: { env: 'DISPATCHD_MAX_LINE_BYTES', flag: '--max-line-bytes', kind: 'int', min: 64, help: 'longest request line in bytes' },
  maxBatchLength: { env: 'DISPATCHD_MAX_BATCH_LENGTH', flag: '--max-batch-length', kind: 'int', min: 1, help: 'most elements in one batch; more → one -32600' },
  maxDepth: { env: 'DISPATCHD_MAX_DEPTH', flag: '--max-depth', kind: 'int', min: 2, help: 'deepest nesting of objects/arrays in one request (a batch element counts from itself); deeper → -32600 with its id, that request alone' },
  maxMethodBytes: { env: 'DISPATCHD_MAX_METHOD_BYTES', flag: '--max-method-bytes', kind: 'int', min: 1, help: 'longest method name in bytes; longer → -32600' },
  maxReplyBytes: { env: 'DISPATCHD_MAX_REPLY_BYTES', flag: '--max-reply-bytes', kind: 'int', min: 1024, help: 'bytes answered for one line; past them each answer is -32001' },
  maxConnections: { env: 'DISPATCHD_MAX_CONNECTIONS', flag: '--max-connections', kind: 'int', min: 1, help: 'simultaneous connections' },
  maxWriteBuffer: { env: 'DISPATCHD_MAX_WRITE_BUFFER', flag: '--max-write-buffer', kind: 'int', min: 1024, help: 'unsent response bytes per connection before reading pauses' },
  slowReaderTimeoutMs: { env: 'DISPATCHD_SLOW_READER_TIMEOUT_MS', flag: '--slow-reader-timeout-ms', kind: 'int', min: 1, help: 'ms a client may leave responses unread before it is dropped' },
  callDeadlineMs: { env: 'DISPATCHD_CALL_DEADLINE_MS', flag: '--call-deadline-ms', kind: 'int', min: 0, help: 'per-call deadline in ms (0 = off)' },
  drainTimeoutMs: { env: 'DISPATCHD_DRAIN_TIMEOUT_MS', flag: '--drain-timeout-ms', kind: 'int', min: 0, help: 'ms a graceful stop waits for in-flight calls' },
  storeMaxTextBytes: { env: 'DISPATCHD_STORE_MAX_TEXT_BYTES', flag: '--store-max-text-bytes', kind: 'int', min: 1, help: 'largest text the built-in store accepts (bytes)' },
  storeBinding: { env: 'DISPATCHD_STORE_BINDING', flag: '--store-binding', kind: 'choice', choices: STORE_BINDINGS, help: `SQLite binding of the built-in store (${STORE_BINDINGS.join('|')}; auto = node:sqlite where this Node has it, else better-sqlite3)` },
  dispatchLoadTimeoutMs: { env: 'DISPATCHD_DISPATCH_LOAD_TIMEOUT_MS', flag: '--dispatch-load-timeout-ms', kind: 'int', min: 1, help: 'ms the dispatch module may take to load at start before serve exits 1' },
  workerHeapMb: { env: 'DISPATCHD_WORKER_HEAP_MB', flag: '--worker-heap-mb', kind: 'int', min: 0, help: 'V8 heap cap per worker in MiB (0 = Node default)' },
  recycleCalls: { env: 'DISPATCHD_RECYCLE_CALLS', flag: '--recycle-calls', kind: 'int', min: 0, help: 'a thread retires after this many calls, between tasks, and is replaced (0 = never)' },
  recycleHeapMb: { env: 'DISPATCHD_RECYCLE_HEAP_MB', flag: '--recycle-heap-mb', kind: 'int', min: 0, help: 'a thread whose heap in use passes this many MiB after a task retires and is replaced; no call fails (0 = never)' },
  tickMs: { env: 'DISPATCHD_TICK_MS', flag: '--tick-ms', kind: 'int', min: 10, help: 'lifecycle scheduler tick interval (ms)' },
  idleMs: { env: 'DISPATCHD_IDLE_MS', flag: '--idle-ms', kind: 'int', min: 0, help: 'no connection and no activity this long is idle (ms)' },
  sleepEveryMs: { env: 'DISPATCHD_SLEEP_EVERY_MS', flag: '--sleep-every-ms', kind: 'int', min: 0, help: 'least time between two idle sleeps (ms)' },
  sleepCycles: { env: 'DISPATCHD_SLEEP_CYCLES', flag: '--sleep-cycles', kind: 'int', min: 1, help: 'maintenance cycles per sleep' },
  firstTurnTtlMs: { env: 'DISPATCHD_FIRST_TURN_TTL_MS', flag: '--first-turn-ttl-ms', kind: 'int', min: 0, help: 'first_turn_pending entries older than this are pruned (ms)' },
  firstTurnMax: { env: 'DISPATCHD_FIRST_TURN_MAX', flag: '--first-turn-max', kind: 'int', min: 1, help: 'most first_turn_pending entries kept' },
  firstTurnMaxBytes: { env: 'DISPATCHD_FIRST_TURN_MAX_BYTES', flag: '--first-turn-max-bytes', kind: 'int', min: 1024, help: 'most bytes of session ids and times first_turn_pending keeps' },
  logLevel: { env: 'DISPATCHD_LOG_LEVEL', flag: '--log-level', kind: 'level', help: `log level (${LOG_LEVELS.join('|')})` },
  pretty: { env: 'DISPATCHD_PRETTY', flag: '--pretty', kind: 'bool', help: 'human-readable logs (default when stderr is a TTY)' },
  stdio: { env: 'DISPATCHD_STDIO', flag: '--stdio', kind: 'bool', help: 'serve NDJSON on stdin/stdout instead of the socket' },
  inline: { env: 'DISPATCHD_INLINE', flag: '--inline', kind: 'bool', help: 'run dispatch on the main thread (benchmark comparison only)' },
  metricsListen: { env: 'DISPATCHD_METRICS_LISTEN', flag: '--metrics-listen', kind: 'listen', help: 'serve Prometheus /metrics on 127.0.0.1:PORT, [::1]:PORT or a unix socket path (default off)' },
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
    case 'choice': {
      const s = String(raw);
      if (!(spec.choices ?? []).includes(s)) throw new ConfigError(`${where}: expected one of ${(spec.choices ?? []).join(', ')}, got ${JSON.stringify(raw)}`);
      return s;
    }
    case 'listen':
      return parseListen(where, raw, cwd);
  }
  throw new ConfigError(`unknown option kind for ${key}`);
}

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|localhost|\[::1\])$/;

/**
 * A metrics listener: a unix socket path (anything with a `/`, or `unix:PATH`)
 * or `HOST:PORT` on a loopback address only — the endpoint has no
 * authentication, so it must never be reachable from the network.
 * Normalised to `/abs/path` or `host:port` (`::1` bracketed).
 */
function parseListen(where: string, raw: string | number | boolean | null, cwd: string): string | null {
  if (raw === null) return null;
  const s = String(raw).trim();
  const path = s.startsWith('unix:') ? s.slice(5) : s.includes('/') ? s : null;
  if (path !== null) {
    if (path === '') throw new ConfigError(`${where}: expected a socket path after unix:`);
    const expanded = path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
    return isAbsolute(expanded) ? expanded : resolve(cwd, expanded);
  }
  const m = /^(.*):(\d{1,5})$/.exec(s);
  if (m === null) throw new ConfigError(`${where}: expected HOST:PORT or a unix socket path, got ${JSON.stringify(raw)}`);
  const host = m[1] === '::1' ? '[::1]' : (m[1] as string);
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(`${where}: port must be 0-65535, got ${port}`);
  if (!LOOPBACK.test(host)) {
    throw new ConfigError(`${where}: ${JSON.stringify(host)} is not a loopback address; the metrics endpoint has no authentication, so only 127.0.0.1, [::1], localhost or a unix socket path are accepted`);
  }
  return `${host}:${port}`;
}

/**
 * Bytes of `sockaddr_un.sun_path`, the terminating NUL included: 108 on
 * Linux, 104 on macOS and the BSDs. A longer path would be truncated by bind.
 */
export const SUN_PATH_BYTES = process.platform === 'linux' ? 108 : 104;

/** A socket path the platform cannot bind is a bad option (SPEC §6 "Files"). */
function checkSocketLength(socket: string, spec: FieldSpec): void {
  const bytes = Buffer.byteLength(socket);
  if (bytes < SUN_PATH_BYTES) return;
  const what = spec === FIELDS.socket ? `socket path ${socket}` : `the default socket path ${socket}`;
  throw new ConfigError(
    `${spec.flag} / ${spec.env}: ${what} is ${bytes} bytes; a unix socket path must be at most ${SUN_PATH_BYTES - 1} bytes on ${process.platform} (sun_path is ${SUN_PATH_BYTES} with its NUL)`,
  );
}

/**
 * A binding named by `--store-binding` must be one this Node and install
 * have, and there must be a built-in store to use it: a bad option, not a
 * start that fails in every thread. (Whether an installed better-sqlite3
 * was built for this Node shows only when a thread opens it.)
 */
function checkStoreBinding(binding: StoreBinding, dispatch: string | null): void {
  const where = `${FIELDS.storeBinding.flag} / ${FIELDS.storeBinding.env}`;
  if (binding === 'auto') return;
  if (dispatch !== null) throw new ConfigError(`${where}: applies to the built-in store only, not with --dispatch`);
  if (binding === 'node:sqlite' && !isBuiltin('node:sqlite')) throw new ConfigError(`${where}: this Node (${process.version}) has no node:sqlite (22.13 and later have it); use auto or better-sqlite3`);
  if (binding === 'better-sqlite3') {
    try {
      createRequire(import.meta.url).resolve('better-sqlite3');
    } catch {
      throw new ConfigError(`${where}: better-sqlite3 is not installed (it is an optional dependency: npm install better-sqlite3); use auto or node:sqlite`);
    }
  }
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
  checkStoreBinding(out.storeBinding as StoreBinding, out.dispatch as string | null);
  // Derived: the socket lives in the home unless named.
  const named = Boolean(out.socket);
  if (!named) out.socket = join(out.home as string, 'daemon.sock');
  if (!out.stdio) checkSocketLength(out.socket as string, named ? FIELDS.socket : FIELDS.home);
  return Object.freeze(out) as unknown as Config;
}
