/**
 * When the daemon gives memory back (`host/release-memory.ts`): at the end
 * of a period (`--thread-idle-ms`, the pool's retire period) in which no
 * call came and none is in flight, if anything happened since the last
 * release — calls, or threads that came up or went (`Pool.threadChanges`).
 * A retired thread frees its memory as it exits, which can be after the
 * tick that sees it go, so a release made in a period that saw a change is
 * made once more the period after. Releasing at each retirement of a quiet
 * spell, not once at its end, measured lower (Node 20: 82 MiB against
 * 92-104): V8 frees some pages only seconds after a collection, and each
 * release takes what the last one left. A daemon that stays quiet is not touched again; one that
 * is busy never pauses for it. A release that throws is logged and turns
 * releases off: it must never take the daemon down.
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
  /** Threads that came up or went, so far (every runner's: a reload does not restart it). */
  readonly threadChanges: () => number;
  readonly release: () => Released;
  readonly log: Logger;
}

export class IdleRelease {
  readonly #deps: IdleReleaseDeps;
  readonly #timer: NodeJS.Timeout | undefined;
  /** Calls received, and what had happened (calls + thread changes), at the last tick. */
  #callsAtTick: number;
  #atTick: number;
  /** What had happened at the last release; -1: none yet. */
  #atRelease = -1;
  /** The last release saw a change in its period: release once more the period after. */
  #again = false;
  #releases = 0;
  #failed = false;
  /** When the last tick ran: a tick much later than its period means the main thread was held, and calls may wait unread. */
  #tickAt = performance.now();

  constructor(deps: IdleReleaseDeps) {
    this.#deps = deps;
    this.#callsAtTick = deps.calls();
    this.#atTick = this.#callsAtTick + deps.threadChanges();
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
    const happened = calls + d.threadChanges();
    const quiet = calls === this.#callsAtTick && d.inFlight() === 0;
    const changed = happened !== this.#atTick;
    this.#callsAtTick = calls;
    this.#atTick = happened;
    const now = performance.now();
    const late = now - this.#tickAt > 1.5 * d.periodMs;
    this.#tickAt = now;
    if (late || !quiet || this.#failed || (happened === this.#atRelease && !this.#again)) return;
    this.#atRelease = happened;
    this.#again = changed;
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
