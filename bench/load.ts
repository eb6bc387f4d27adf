/**
 * Load generation against any NDJSON JSON-RPC server on a unix socket:
 * connections that keep P requests in flight, an HDR latency histogram, and
 * an exact count of what was sent, answered, failed and lost.
 */
import { createConnection, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LineReader } from '../src/client/lines.js';
import { Latency } from '../src/observability/metrics.js';
import { TargetError } from './failures.js';
import { within } from './timers.js';
import { addCodes, errorCode, lineErrorCode } from './wire-error.js';

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Latencies in ms: the daemon's own histogram (percentiles clamped to an exact max). */
export { Latency as Histogram };

/** A closed loop's callback: the call's latency (ms) and whether it was answered with an error. */
export type Answered = (ms: number, failed: boolean) => void;

/**
 * The id and outcome of a response line written with `jsonrpc` first and `id`
 * second (dispatchd, the echo ceiling and the asyncio baseline all write them
 * so), read without parsing the whole line; null for any other shape.
 */
export function scanResponse(line: string): { id: number; failed: boolean } | null {
  let i = line.startsWith('{"jsonrpc":"2.0","id":') ? 22 : line.startsWith('{"jsonrpc": "2.0", "id": ') ? 25 : -1;
  if (i < 0) return null;
  let id = 0;
  const start = i;
  for (let c = line.charCodeAt(i); c >= 48 && c <= 57; c = line.charCodeAt(++i)) id = id * 10 + (c - 48);
  if (i === start || i - start > 15) return null;
  if (line.charCodeAt(i) === 44 /* , */) i++;
  if (line.charCodeAt(i) === 32) i++;
  if (line.startsWith('"result"', i)) return { id, failed: false };
  if (line.startsWith('"error"', i)) return { id, failed: true };
  return null;
}

/**
 * One NDJSON connection that matches responses by id (and control replies in
 * order). `send` is the closed loops' cheap path: a prebuilt request line, the
 * response's id and outcome scanned rather than parsed, a callback rather than
 * a promise, and every request sent while handling one chunk of responses
 * leaves in one write. The harness shares the cores with the server it
 * measures, so what it spends per call is taken from the server.
 */
export class LoadConn {
  readonly #socket: Socket;
  readonly #lines = new LineReader((line) => this.#onLine(line));
  #nextId = 1;
  readonly #pending = new Map<number, (line: Record<string, unknown>) => void>();
  /** Rejects every `call` and `control` still waiting: the connection is gone and they never will be answered. */
  readonly #abandon = new Set<(err: Error) => void>();
  closed = false;
  readonly #fast = new Map<number, { readonly t0: number; readonly cb: Answered }>();
  readonly #controls: ((line: Record<string, unknown>) => void)[] = [];
  sent = 0;
  answered = 0;
  errors = 0;
  /** Error answers by code. */
  readonly codes: Record<string, number> = {};

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => {
      // Requests sent from the callbacks of one chunk's responses leave together.
      socket.cork();
      this.#lines.write(d);
      socket.uncork();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      const err = new Error('the server closed the connection');
      for (const reject of this.#abandon) reject(err);
      this.#abandon.clear();
    });
  }

  static open(path: string): Promise<LoadConn> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new LoadConn(s)));
      s.once('error', (err: NodeJS.ErrnoException) => reject(new TargetError(`cannot connect to ${path}: ${err.code ?? err.message}`)));
    });
  }

  #onLine(line: string): void {
    this.answered++;
    const scanned = scanResponse(line);
    const fast = scanned === null ? undefined : this.#fast.get(scanned.id);
    if (scanned !== null && fast !== undefined) {
      this.#fast.delete(scanned.id);
      if (scanned.failed) this.#failed(lineErrorCode(line));
      fast.cb(performance.now() - fast.t0, scanned.failed);
      return;
    }
    this.#onMessage(JSON.parse(line) as Record<string, unknown>);
  }

  #onMessage(msg: Record<string, unknown>): void {
    if (!('jsonrpc' in msg)) {
      this.#controls.shift()?.(msg);
      return;
    }
    const code = errorCode(msg);
    if (code !== null) this.#failed(code);
    const id = msg.id as number;
    const fast = this.#fast.get(id);
    if (fast !== undefined) {
      this.#fast.delete(id);
      fast.cb(performance.now() - fast.t0, msg.error !== undefined);
      return;
    }
    const cb = this.#pending.get(id);
    if (cb) {
      this.#pending.delete(id);
      cb(msg);
    }
  }

  #failed(code: number | null): void {
    this.errors++;
    const k = String(code ?? 0);
    this.codes[k] = (this.codes[k] ?? 0) + 1;
  }

  /** Sends a request; resolves with its response and latency in ms. */
  call(method: string, params?: unknown): Promise<{ msg: Record<string, unknown>; ms: number }> {
    const id = this.#nextId++;
    const t0 = performance.now();
    this.sent++;
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('the server closed the connection'));
      this.#abandon.add(reject);
      this.#pending.set(id, (msg) => {
        this.#abandon.delete(reject);
        resolve({ msg, ms: performance.now() - t0 });
      });
      this.#socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  /**
   * The cheap path: `head` is a request line up to its id (`requestHead`); `cb` gets the latency and
   * whether it failed. `t0` is when the request should have left (an open loop's schedule), default now.
   */
  send(head: string, cb: Answered, t0: number = performance.now()): void {
    const id = this.#nextId++;
    this.sent++;
    this.#fast.set(id, { t0, cb });
    this.#socket.write(`${head}${id}}\n`);
  }

  /** Sends a control message; resolves with its reply and latency in ms (from `t0`, default now). */
  control(msg: object, t0: number = performance.now()): Promise<{ msg: Record<string, unknown>; ms: number }> {
    this.sent++;
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('the server closed the connection'));
      this.#abandon.add(reject);
      this.#controls.push((reply) => {
        this.#abandon.delete(reject);
        resolve({ msg: reply, ms: performance.now() - t0 });
      });
      this.#socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** A request line for `send`, up to its id (which comes last). */
export function requestHead(method: string, params: unknown): string {
  return `{"jsonrpc":"2.0","method":${JSON.stringify(method)}${params === undefined ? '' : `,"params":${JSON.stringify(params)}`},"id":`;
}

export interface ClosedLoopResult {
  /** Calls answered with a result (an error answer is never a completed call). */
  readonly calls: number;
  readonly errors: number;
  /** Error answers by code. */
  readonly codes: Record<string, number>;
  readonly lost: number;
  readonly seconds: number;
  readonly callsPerSec: number;
  readonly latency: Percentiles;
}

/**
 * C connections each keeping P requests in flight for `ms`, then waiting
 * (up to `graceMs`) for the stragglers. Lost = sent but never answered.
 * Only calls answered with a result count and are timed: an error answer is
 * often the fastest there is, and must not pass for throughput.
 */
export async function closedLoop(
  path: string,
  opts: {
    connections: number;
    pipeline: number;
    ms: number;
    method: string;
    params?: unknown | (() => unknown);
    graceMs?: number;
    onTick?: (frac: number) => void;
    /** Record into this histogram (shared across interleaved rounds); the result's latency is its summary. */
    hist?: Latency;
  },
): Promise<ClosedLoopResult> {
  const conns = await Promise.all(Array.from({ length: opts.connections }, () => LoadConn.open(path)));
  const hist = opts.hist ?? new Latency();
  let stop = false;
  let done = 0;
  const t0 = performance.now();
  const fixed = typeof opts.params === 'function' ? null : requestHead(opts.method, opts.params);
  const lane = (c: LoadConn): Promise<void> =>
    new Promise((resolve) => {
      const next = (): void => {
        if (stop) return resolve();
        c.send(fixed ?? requestHead(opts.method, (opts.params as () => unknown)()), (ms, failed) => {
          if (!failed) {
            hist.record(ms);
            done++;
          }
          next();
        });
      };
      next();
    });
  const runs = conns.flatMap((c) => Array.from({ length: opts.pipeline }, () => lane(c)));
  const ticker = setInterval(() => opts.onTick?.(Math.min(1, (performance.now() - t0) / opts.ms)), 200);
  await new Promise((r) => setTimeout(r, opts.ms));
  stop = true;
  const elapsed = (performance.now() - t0) / 1000;
  const counted = done;
  clearInterval(ticker);
  await within(Promise.all(runs), opts.graceMs ?? 5000);
  const sent = conns.reduce((n, c) => n + c.sent, 0);
  const answered = conns.reduce((n, c) => n + c.answered, 0);
  const errors = conns.reduce((n, c) => n + c.errors, 0);
  const codes: Record<string, number> = {};
  for (const c of conns) addCodes(codes, c.codes);
  for (const c of conns) c.close();
  return { calls: counted, errors, codes, lost: sent - answered, seconds: elapsed, callsPerSec: Math.round(counted / elapsed), latency: hist.summary() };
}
