/**
 * Which lane a method runs in. A dispatch module may declare lanes
 * (`export const lanes = { reindex: 'slow', lookup: 'fast' }`); any other
 * method is classified by its observed run time: an exponentially weighted
 * average against a threshold, so the class follows the method as it
 * changes. A method never seen runs in the slow lane until it has run once,
 * so an unknown method can never occupy the threads kept for fast calls.
 */

export type Lane = 'fast' | 'slow';

interface Observed {
  ewmaMs: number;
  calls: number;
}

/** Weight of the newest run time in the average. */
const ALPHA = 0.2;

export class LaneClassifier {
  readonly #declared: ReadonlyMap<string, Lane>;
  readonly #thresholdMs: number;
  readonly #maxMethods: number;
  readonly #observed = new Map<string, Observed>();

  constructor(declared: Readonly<Record<string, Lane>>, thresholdMs: number, maxMethods = 4096) {
    this.#declared = new Map(Object.entries(declared));
    this.#thresholdMs = thresholdMs;
    this.#maxMethods = maxMethods;
  }

  laneOf(method: string): Lane {
    const declared = this.#declared.get(method);
    if (declared !== undefined) return declared;
    const seen = this.#observed.get(method);
    return seen !== undefined && seen.ewmaMs <= this.#thresholdMs ? 'fast' : 'slow';
  }

  /** Learns from one finished call. */
  record(method: string, runMs: number): void {
    let seen = this.#observed.get(method);
    if (seen === undefined) {
      // Bounded: random method names from a client can't grow this forever.
      if (this.#observed.size >= this.#maxMethods) {
        const oldest = this.#observed.keys().next().value as string;
        this.#observed.delete(oldest);
      }
      seen = { ewmaMs: runMs, calls: 0 };
      this.#observed.set(method, seen);
    }
    seen.calls++;
    seen.ewmaMs = seen.calls === 1 ? runMs : seen.ewmaMs + ALPHA * (runMs - seen.ewmaMs);
  }

  /** For `status`: the threshold, the declared lanes, and the busiest observed methods. */
  snapshot(limit = 32): Record<string, unknown> {
    const methods = [...this.#observed.entries()]
      .sort((a, b) => b[1].calls - a[1].calls)
      .slice(0, limit)
      .map(([method, o]) => ({ method, lane: this.laneOf(method), avg_run_ms: Math.round(o.ewmaMs * 1000) / 1000, calls: o.calls }));
    return { threshold_ms: this.#thresholdMs, declared: Object.fromEntries(this.#declared), methods };
  }
}

/** Validates a module's `lanes` export; anything malformed is an error naming the method. */
export function parseLanes(value: unknown): Record<string, Lane> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('lanes export must be an object of method → "fast" | "slow"');
  const out: Record<string, Lane> = {};
  for (const [method, lane] of Object.entries(value)) {
    if (lane !== 'fast' && lane !== 'slow') throw new TypeError(`lanes.${method} must be "fast" or "slow", got ${JSON.stringify(lane)}`);
    out[method] = lane;
  }
  return out;
}
