/**
 * When the daemon gives memory back (`host/release-memory.ts`): once per
 * quiet spell, at the end of a period (`--thread-idle-ms`, the pool's retire
 * period) in which nothing happened — no call came, no thread started or
 * retired, none in flight — if something had happened since the last
 * release. A thread frees its memory as it exits, which is after the tick
 * that sees its retirement: so the release comes one period after the last
 * change of a spell, with every retired thread gone. A daemon that stays
 * quiet is not touched again; one that is busy never pauses for it. A
 * release that throws is logged and turns releases off: it must never take
 * the daemon down.
 */
import type { Logger } from 'pino';
import type { Released } from '../host/release-memory.js';

export interface IdleReleaseDeps {
  /** Off (`--quiet-release off`): never releases. */
  readonly enabled: boolean;
  readonly periodMs: number;
  /** Calls received so far. */
  readonly calls: () => number;
  /** Calls not yet answered. */
  readonly inFlight: () => number;
  /** Threads started plus threads retired, so far. */
  readonly threadChanges: () => number;
  readonly release: () => Released;
  readonly log: Logger;
}

export class IdleRelease {
  readonly #deps: IdleReleaseDeps;
  readonly #timer: NodeJS.Timeout | undefined;
  /** What had happened (calls + thread changes) at the last tick. */
  #atTick: number;
  /** What had happened at the last release; -1: none yet. */
  #atRelease = -1;
  #releases = 0;
  #failed = false;

  constructor(deps: IdleReleaseDeps) {
    this.#deps = deps;
    this.#atTick = this.#happened();
    this.#timer = deps.enabled ? setInterval(() => this.#tick(), deps.periodMs) : undefined;
    this.#timer?.unref();
  }

  /** Releases done so far. */
  get releases(): number {
    return this.#releases;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #happened(): number {
    return this.#deps.calls() + this.#deps.threadChanges();
  }

  #tick(): void {
    const d = this.#deps;
    const happened = this.#happened();
    const quiet = happened === this.#atTick && d.inFlight() === 0;
    this.#atTick = happened;
    if (!quiet || happened === this.#atRelease || this.#failed) return;
    this.#atRelease = happened;
    try {
      const r = d.release();
      this.#releases++;
      d.log.debug({ rss_before: r.rssBefore, rss_after: r.rssAfter, ms: Math.round(r.ms * 10) / 10 }, 'quiet: memory released');
    } catch (err) {
      this.#failed = true;
      d.log.warn({ error: err instanceof Error ? err.message : String(err) }, 'giving memory back failed; not trying again');
    }
  }
}
