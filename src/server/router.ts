/**
 * Routes (SPEC §2): each frame from `framing` becomes exactly one reply —
 * a response line, or nothing for a notification or a blank batch. Control
 * messages go to the control plane (main thread), requests to the pool with
 * their params as JSON text. Knows nothing about sockets: a `CallContext`
 * is all it sees.
 *
 * Ordering: every control message, alone or in a batch, runs after the
 * control messages and control-carrying batches before it on its
 * connection, and a batch holding a control message is written before any
 * later control reply. Batches of JSON-RPC calls only wait on nothing.
 */
import type { Logger } from 'pino';
import type { ControlPlane } from '../lifecycle/control.js';
import { idBeforeCut, parseLine, type EnvelopeLimits, type Message, type RawId } from '../wire/envelope.js';
import { boundData, ErrorCode, type WireError } from '../contract/errors.js';
import type { Frame } from '../wire/framing.js';
import type { Pool, ReloadReport, Ticket } from '../pool/pool.js';
import { errorLine, resultLine } from '../wire/response.js';
import type { Outcome } from '../contract/contract.js';

/** What the router needs from whoever carries the bytes. */
export interface CallContext {
  /** The frame's reply, exactly once; null sends nothing. */
  reply(line: string | null): void;
  /**
   * Like reply, for frames holding control messages: `run` starts only after
   * the previous such frame of this context has been answered, so each sees
   * the state its predecessors left and the replies keep their order.
   */
  replyInOrder(run: () => Promise<string | null>): void;
  /** This context carries foreground work (SPEC §7): a line that is not a control message. */
  markForeground(): void;
  /** Calls this connection has queued, so they can be dropped if it leaves. */
  readonly tickets: Set<Ticket>;
  readonly log: Logger;
}

export interface RouterDeps {
  readonly pool: Pool;
  readonly control: ControlPlane;
  /** Called for every line that is not a control message: foreground work (SPEC §7). */
  readonly onActivity: () => void;
  /** Called for every JSON-RPC request (the scheduler yields to them). */
  readonly onCall: () => void;
  /** `rpc.reload`: loads the dispatch module again (docs/reload.md); rejects with the load error. */
  readonly reload: () => Promise<ReloadReport>;
}

/** The bounds the router applies to one line and its answer (SPEC §6). */
export interface RouterLimits extends EnvelopeLimits {
  readonly maxLineBytes: number;
  /** Bytes answered for one line; past them, each further answer is a small -32001. */
  readonly maxReplyBytes: number;
}

/** Codes logged at warn: failures inside the daemon or the dispatch module. */
const SERVER_FAULTS: ReadonlySet<number> = new Set([ErrorCode.Internal, ErrorCode.DeadlineExceeded]);

const INVALID_UTF8 = errorLine(null, { code: ErrorCode.ParseError, message: 'line is not valid UTF-8', data: { syntax: 'utf8' } });
/** Control messages of one batch answered before the main thread turns to other work. */
const CONTROLS_PER_TURN = 32;

/**
 * The bytes one line may be answered with. Each answer either fits and is
 * kept, or is replaced by a small error for the same id — so a batch keeps
 * one answer per request, and what the daemon holds for a line is bounded.
 */
class ReplyBudget {
  #left: number;
  readonly #tooLarge: WireError;
  constructor(bytes: number) {
    this.#left = bytes;
    this.#tooLarge = { code: ErrorCode.Internal, message: 'response too large', data: boundData('max_reply_bytes', bytes) };
  }
  fit(line: string, id: RawId | null): string {
    const bytes = Buffer.byteLength(line) + 1;
    if (bytes <= this.#left) {
      this.#left -= bytes;
      return line;
    }
    const small = errorLine(id, this.#tooLarge);
    this.#left -= small.length + 1;
    return small;
  }
  /** Control replies are never replaced (they carry no id), but they count. */
  spend(line: string): string {
    this.#left -= Buffer.byteLength(line) + 1;
    return line;
  }
}

export class Router {
  readonly #deps: RouterDeps;
  readonly #limits: RouterLimits;
  readonly #tooLong: WireError;

  constructor(deps: RouterDeps, limits: RouterLimits) {
    this.#deps = deps;
    this.#limits = limits;
    this.#tooLong = { code: ErrorCode.InvalidRequest, message: `line too long (limit ${limits.maxLineBytes} bytes)`, data: boundData('max_line_bytes', limits.maxLineBytes) };
  }

  /** Routes one frame; `ctx.reply` or `ctx.replyInOrder` is called exactly once. */
  route(frame: Frame, ctx: CallContext): void {
    if (frame.kind !== 'line') this.#foreground(ctx);
    // The id is echoed when it stands whole before the cut; a bound on the whole line refuses the line.
    if (frame.kind === 'too_long') return ctx.reply(errorLine(idBeforeCut(frame.head, this.#limits), this.#tooLong));
    if (frame.kind === 'invalid_utf8') return ctx.reply(INVALID_UTF8);
    const parsed = parseLine(frame.text, this.#limits);
    // Control messages (a monitoring `status`) are not foreground work (SPEC §7).
    const control = parsed.kind === 'batch' ? parsed.items.length > 0 && parsed.items.every((m) => m.kind === 'control') : parsed.kind === 'control';
    if (!control) this.#foreground(ctx);
    switch (parsed.kind) {
      case 'parse_error':
        return ctx.reply(errorLine(null, parsed.error));
      case 'batch':
        return this.#batch(parsed.items, ctx);
      case 'control':
        return ctx.replyInOrder(() => this.#control(parsed));
      case 'invalid':
        return ctx.reply(errorLine(parsed.id, parsed.error));
      case 'request': {
        const budget = new ReplyBudget(this.#limits.maxReplyBytes);
        return this.#call(parsed, ctx, (line) => ctx.reply(line === null ? null : budget.fit(line, parsed.id)));
      }
    }
  }

  async #control(m: Extract<Message, { kind: 'control' }>): Promise<string> {
    return JSON.stringify(await this.#deps.control.handle(m.msg, { floatSeconds: m.floatSeconds }));
  }

  #foreground(ctx: CallContext): void {
    ctx.markForeground();
    this.#deps.onActivity();
  }

  #call(msg: Extract<Message, { kind: 'request' }>, ctx: CallContext, done: (line: string | null) => void): void {
    this.#deps.onCall();
    const { id, method } = msg;
    // JSON-RPC 2.0 reserves the rpc. prefix for extensions: the daemon's own, never the module's.
    if (method.startsWith('rpc.')) return this.#extension(method, id, done);
    const ticket: Ticket = this.#deps.pool.submit(method, msg.params, (outcome: Outcome, waitMs: number) => {
      ctx.tickets.delete(ticket);
      if (!outcome.ok && SERVER_FAULTS.has(outcome.error.code)) {
        // The daemon's or the dispatch module's fault, not the caller's: worth a line.
        ctx.log.warn({ method, id, code: outcome.error.code, error: outcome.error.message, run_ms: round(outcome.runMs) }, 'call failed');
      } else if (ctx.log.isLevelEnabled('debug')) {
        ctx.log.debug({ method, id, wait_ms: round(waitMs), run_ms: round(outcome.runMs), ok: outcome.ok, code: outcome.ok ? undefined : outcome.error.code }, 'call');
      }
      if (id === null) return done(null);
      done(outcome.ok ? resultLine(id, outcome.json) : errorLine(id, outcome.error));
    });
    ctx.tickets.add(ticket);
  }

  /** The daemon's own methods: `rpc.reload`; any other `rpc.` name is unknown. */
  #extension(method: string, id: RawId | null, done: (line: string | null) => void): void {
    if (method !== 'rpc.reload') {
      return done(id === null ? null : errorLine(id, { code: ErrorCode.MethodNotFound, message: `unknown method '${method}'`, data: { failure: 'unknown_extension' } }));
    }
    this.#deps.reload().then(
      (report) => done(id === null ? null : resultLine(id, JSON.stringify(report))),
      (err: unknown) =>
        done(
          id === null
            ? null
            : errorLine(id, { code: ErrorCode.Internal, message: `reload failed, the module in use still serves: ${err instanceof Error ? err.message : String(err)}`.slice(0, 2000), data: { failure: 'reload_failed' } }),
        ),
    );
  }

  #batch(items: readonly Message[], ctx: CallContext): void {
    const lines: (string | null)[] = new Array<string | null>(items.length).fill(null);
    const controls: number[] = [];
    // Counted before any is submitted, so an answer that came at once could not close the batch early.
    let calls = items.reduce((n, item) => (item.kind === 'request' ? n + 1 : n), 0);
    let finishCalls!: () => void;
    const callsDone = new Promise<void>((resolve) => (finishCalls = resolve));
    items.forEach((item, i) => {
      switch (item.kind) {
        case 'invalid':
          lines[i] = errorLine(item.id, item.error);
          return;
        case 'control':
          controls.push(i);
          return;
        case 'request':
          this.#call(item, ctx, (line) => {
            lines[i] = line;
            if (--calls === 0) finishCalls();
          });
          return;
      }
    });
    if (calls === 0) finishCalls();
    // The reply budget is spent in the batch's own order, once every answer is in, so which
    // answer is cut never depends on which call happened to finish first (SPEC §6).
    const joined = (): string | null => {
      const budget = new ReplyBudget(this.#limits.maxReplyBytes);
      const present: string[] = [];
      items.forEach((item, i) => {
        const line = lines[i];
        if (line === null || line === undefined) return;
        present.push(item.kind === 'control' ? budget.spend(line) : budget.fit(line, item.id));
      });
      return present.length === 0 ? null : `[${present.join(',')}]`;
    };
    if (controls.length === 0) {
      void callsDone.then(() => ctx.reply(joined()));
      return;
    }
    // The batch takes its place in the connection's control order.
    ctx.replyInOrder(async () => {
      for (const [k, i] of controls.entries()) {
        // A batch of many control messages lets other connections in between.
        if (k > 0 && k % CONTROLS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
        const item = items[i] as Extract<Message, { kind: 'control' }>;
        lines[i] = await this.#control(item);
      }
      await callsDone;
      return joined();
    });
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
