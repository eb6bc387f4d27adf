/**
 * When the daemon gives memory back (`host/release-memory.ts`): once per
 * quiet spell, at the end of a period (`--thread-idle-ms`, the pool's retire
 * period) in which no call came and none ran, if anything happened since the
 * last release — calls, or threads started or retired (a retired thread's
 * memory is freed as it exits, so each retirement of a quiet spell is
 * followed by a release one period later). A daemon that stays quiet is not
 * touched again; one that is busy never pauses for it.
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
  /** Made once (it binds the collector and malloc_trim); not made when disabled. */
  readonly release: () => () => Released;
  readonly log: Logger;
}

export class IdleRelease {
  readonly #deps: IdleReleaseDeps;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #release: (() => Released) | undefined;
  /** Calls received at the last tick: unchanged over a period means no call came in it. */
  #callsAtTick: number;
  /** What had happened (calls + thread changes) at the last release; -1: none yet. */
  #releasedAt = -1;
  #releases = 0;

  constructor(deps: IdleReleaseDeps) {
    this.#deps = deps;
    this.#callsAtTick = deps.calls();
    this.#release = deps.enabled ? deps.release() : undefined;
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

  #tick(): void {
    const d = this.#deps;
    const calls = d.calls();
    const quiet = calls === this.#callsAtTick && d.inFlight() === 0;
    this.#callsAtTick = calls;
    const happened = calls + d.threadChanges();
    if (!quiet || happened === this.#releasedAt) return;
    this.#releasedAt = happened;
    this.#releases++;
    const r = (this.#release as () => Released)();
    d.log.debug({ rss_before: r.rssBefore, rss_after: r.rssAfter, ms: Math.round(r.ms * 10) / 10 }, 'quiet: memory released');
  }
}
