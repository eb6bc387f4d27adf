/**
 * The one place that learns per-method timing, and what the pool decides
 * from it. Each method is one of:
 *   fast — average run time at most the threshold (or declared `fast`):
 *          calls travel to a worker in batches;
 *   cpu  — slow and mostly on CPU (CPU time ≥ half of wall time): at most
 *          `cpuThreads` at once, so CPU-bound work never oversubscribes the cores;
 *   wait — slow and mostly waiting (sleep, I/O, a lock): may use every slow
 *          thread, like `asyncio.to_thread`;
 *   new  — never seen: one call probes it, the rest of its first burst waits
 *          briefly for the verdict instead of running one by one.
 * A module may declare lanes (`export const lanes = {m: 'fast' | 'slow'}`);
 * a declared slow method is still measured to tell cpu from wait.
 *
 * Bounded in entries and in bytes of method names (SPEC §6): the least
 * recently used method is forgotten first. `snapshot()` is bounded too.
 */

export type Lane = 'fast' | 'slow';
export type Kind = 'fast' | 'cpu' | 'wait' | 'new';

interface Entry {
  /** Exponentially weighted average run time (ms). */
  runMs: number;
  /** Weighted average of CPU time ÷ wall time over measured calls; null until one is measured. */
  cpuShare: number | null;
  calls: number;
}

/** Weight of the newest sample in the averages. */
const ALPHA = 0.2;
/** A slow method at or above this CPU share counts as CPU-bound. */
const CPU_BOUND = 0.5;
/** Calls shorter than this say little about CPU share (timer and /proc noise). */
const MEASURABLE_MS = 2;
/** Method names shown by `status` are clipped to this many characters. */
const SHOWN_NAME = 64;

export interface MethodTableOptions {
  readonly declared: Readonly<Record<string, Lane>>;
  readonly thresholdMs: number;
  readonly maxMethods: number;
  /** Sum of remembered method-name lengths (UTF-16 units ×2 ≈ bytes). */
  readonly maxBytes: number;
}

/** One method in `status.pool.lanes.methods`: what the pool decided for it and why. */
export interface MethodStatus {
  readonly method: string;
  readonly kind: Kind;
  readonly lane: Lane;
  readonly why: string;
  readonly avg_run_ms: number;
  readonly cpu_share: number | null;
  readonly calls: number;
}

/** `status.pool.lanes`: the timing table's decisions, bounded. */
export interface LanesStatus {
  readonly threshold_ms: number;
  readonly cpu_bound_share: number;
  readonly declared: Readonly<Record<string, Lane>>;
  readonly methods_known: number;
  /** The most called methods, at most `limit`. */
  readonly methods: readonly MethodStatus[];
}

export class MethodTable {
  readonly #declared: ReadonlyMap<string, Lane>;
  readonly #opts: MethodTableOptions;
  readonly #seen = new Map<string, Entry>();
  #bytes = 0;

  constructor(opts: MethodTableOptions) {
    this.#opts = opts;
    this.#declared = new Map(Object.entries(opts.declared));
  }

  kindOf(method: string): Kind {
    const declared = this.#declared.get(method);
    const e = this.#seen.get(method);
    if (declared === 'fast') return 'fast';
    if (declared === undefined) {
      if (e === undefined) return 'new';
      if (e.runMs <= this.#opts.thresholdMs) return 'fast';
    }
    // Slow: unmeasured methods are assumed to wait (blocking I/O is the common slow call).
    return e !== undefined && e.cpuShare !== null && e.cpuShare >= CPU_BOUND ? 'cpu' : 'wait';
  }

  /** Whether the next call of `method` should have its CPU time measured. */
  measure(method: string): boolean {
    return this.kindOf(method) !== 'fast';
  }

  /** Learns from one finished call. */
  record(method: string, runMs: number, cpuMs: number | undefined): void {
    let e = this.#seen.get(method);
    if (e === undefined) {
      const bytes = 2 * method.length + 64;
      while (this.#seen.size > 0 && (this.#seen.size >= this.#opts.maxMethods || this.#bytes + bytes > this.#opts.maxBytes)) {
        const oldest = this.#seen.keys().next().value as string;
        this.#seen.delete(oldest);
        this.#bytes -= 2 * oldest.length + 64;
      }
      if (bytes > this.#opts.maxBytes) return;
      e = { runMs, cpuShare: null, calls: 0 };
      this.#bytes += bytes;
    } else {
      this.#seen.delete(method); // re-inserted below: most recently used last
      e.runMs += ALPHA * (runMs - e.runMs);
    }
    this.#seen.set(method, e);
    e.calls++;
    if (cpuMs !== undefined && runMs >= MEASURABLE_MS) {
      const share = Math.min(1, Math.max(0, cpuMs / runMs));
      e.cpuShare = e.cpuShare === null ? share : e.cpuShare + ALPHA * (share - e.cpuShare);
    }
  }

  get size(): number {
    return this.#seen.size;
  }

  /** For `status`: what the pool decided per method and why; at most `limit` methods, names clipped. */
  snapshot(limit = 16): LanesStatus {
    const top = [...this.#seen.entries()].sort((a, b) => b[1].calls - a[1].calls).slice(0, limit);
    const declared = [...this.#declared.entries()].slice(0, limit).map(([m, lane]): [string, Lane] => [m.slice(0, SHOWN_NAME), lane]);
    return {
      threshold_ms: this.#opts.thresholdMs,
      cpu_bound_share: CPU_BOUND,
      declared: Object.fromEntries(declared),
      methods_known: this.#seen.size,
      methods: top.map(([method, e]) => ({
        method: method.slice(0, SHOWN_NAME),
        kind: this.kindOf(method),
        lane: this.kindOf(method) === 'fast' ? 'fast' : 'slow',
        why: this.#why(method, e),
        avg_run_ms: round(e.runMs),
        cpu_share: e.cpuShare === null ? null : round(e.cpuShare),
        calls: e.calls,
      })),
    };
  }

  #why(method: string, e: Entry): string {
    const declared = this.#declared.get(method);
    if (declared === 'fast') return 'declared fast';
    const slow = declared === 'slow' ? 'declared slow' : e.runMs <= this.#opts.thresholdMs ? null : `avg run > ${this.#opts.thresholdMs} ms`;
    if (slow === null) return `avg run ≤ ${this.#opts.thresholdMs} ms`;
    if (e.cpuShare === null) return `${slow}; CPU share not measured yet: may use every slow thread`;
    return e.cpuShare >= CPU_BOUND ? `${slow}; CPU-bound: shares the CPU slots` : `${slow}; mostly waiting: may use every slow thread`;
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
