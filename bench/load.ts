/**
 * Load generation against any NDJSON JSON-RPC server on a unix socket:
 * connections that keep P requests in flight, an HDR latency histogram, and
 * an exact count of what was sent, answered, failed and lost.
 */
import { createConnection, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Latency } from '../src/metrics.js';

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Latencies in ms: the daemon's own histogram (percentiles clamped to an exact max). */
export { Latency as Histogram };

/** One NDJSON connection that matches responses by id (and control replies in order). */
export class LoadConn {
  readonly #socket: Socket;
  #buf = '';
  #nextId = 1;
  readonly #pending = new Map<number, (line: Record<string, unknown>) => void>();
  readonly #controls: ((line: Record<string, unknown>) => void)[] = [];
  sent = 0;
  answered = 0;
  errors = 0;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.#onData(d));
    socket.on('error', () => {});
  }

  static open(path: string): Promise<LoadConn> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new LoadConn(s)));
      s.once('error', reject);
    });
  }

  #onData(d: string): void {
    this.#buf += d;
    let i: number;
    while ((i = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + 1);
      if (line.length === 0) continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      this.answered++;
      if (!('jsonrpc' in msg)) {
        this.#controls.shift()?.(msg);
        continue;
      }
      if (msg.error !== undefined) this.errors++;
      const id = msg.id as number;
      const cb = this.#pending.get(id);
      if (cb) {
        this.#pending.delete(id);
        cb(msg);
      }
    }
  }

  /** Sends a request; resolves with its response and latency in ms. */
  call(method: string, params?: unknown): Promise<{ msg: Record<string, unknown>; ms: number }> {
    const id = this.#nextId++;
    const t0 = performance.now();
    this.sent++;
    return new Promise((resolve) => {
      this.#pending.set(id, (msg) => resolve({ msg, ms: performance.now() - t0 }));
      this.#socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  /** Sends a control message; resolves with its reply and latency in ms. */
  control(msg: object): Promise<{ msg: Record<string, unknown>; ms: number }> {
    const t0 = performance.now();
    this.sent++;
    return new Promise((resolve) => {
      this.#controls.push((reply) => resolve({ msg: reply, ms: performance.now() - t0 }));
      this.#socket.write(`${JSON.stringify(msg)}\n`);
    });
  }


  close(): void {
    this.#socket.destroy();
  }
}

export interface ClosedLoopResult {
  readonly calls: number;
  readonly errors: number;
  readonly lost: number;
  readonly seconds: number;
  readonly callsPerSec: number;
  readonly latency: Percentiles;
}

/**
 * C connections each keeping P requests in flight for `ms`, then waiting
 * (up to `graceMs`) for the stragglers. Lost = sent but never answered.
 */
export async function closedLoop(
  path: string,
  opts: { connections: number; pipeline: number; ms: number; method: string; params?: unknown | (() => unknown); graceMs?: number; onTick?: (frac: number) => void },
): Promise<ClosedLoopResult> {
  const conns = await Promise.all(Array.from({ length: opts.connections }, () => LoadConn.open(path)));
  const hist = new Latency();
  let stop = false;
  let done = 0;
  const t0 = performance.now();
  const lane = async (c: LoadConn): Promise<void> => {
    while (!stop) {
      const { ms } = await c.call(opts.method, typeof opts.params === 'function' ? (opts.params as () => unknown)() : opts.params);
      hist.record(ms);
      done++;
    }
  };
  const runs = conns.flatMap((c) => Array.from({ length: opts.pipeline }, () => lane(c)));
  const ticker = setInterval(() => opts.onTick?.(Math.min(1, (performance.now() - t0) / opts.ms)), 200);
  await new Promise((r) => setTimeout(r, opts.ms));
  stop = true;
  const elapsed = (performance.now() - t0) / 1000;
  const counted = done;
  await Promise.race([Promise.all(runs), new Promise((r) => setTimeout(r, opts.graceMs ?? 5000))]);
  clearInterval(ticker);
  const sent = conns.reduce((n, c) => n + c.sent, 0);
  const answered = conns.reduce((n, c) => n + c.answered, 0);
  const errors = conns.reduce((n, c) => n + c.errors, 0);
  for (const c of conns) c.close();
  return { calls: counted, errors, lost: sent - answered, seconds: elapsed, callsPerSec: Math.round(counted / elapsed), latency: hist.summary() };
}
