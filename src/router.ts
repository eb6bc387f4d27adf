/**
 * Routes (SPEC §2): each frame from `framing` becomes exactly one reply —
 * a response line, or nothing for a notification or a blank batch. Control
 * messages go to the control plane (main thread), requests to the pool.
 * Knows nothing about sockets: a `CallContext` is all it sees.
 */
import type { Logger } from 'pino';
import type { ControlPlane } from './control.js';
import { parseLine, type Message } from './envelope.js';
import { ErrorCode } from './errors.js';
import type { Frame } from './framing.js';
import type { Pool, Ticket } from './pool.js';
import { errorLine, resultLine } from './response.js';
import type { Outcome } from './contract.js';

/** What the router needs from whoever carries the bytes. */
export interface CallContext {
  /** The frame's reply, exactly once; null sends nothing. */
  reply(line: string | null): void;
  /**
   * Like reply, for control messages: `run` starts only after the previous
   * control message of this context has been answered, so each sees the
   * state its predecessors left and the replies keep their order.
   */
  replyInOrder(run: () => Promise<string>): void;
  /** Calls this connection has queued, so they can be dropped if it leaves. */
  readonly tickets: Set<Ticket>;
  readonly log: Logger;
}

export interface RouterDeps {
  readonly pool: Pool;
  readonly control: ControlPlane;
  /** Called for every line that reaches the router (SPEC §7 idle detection). */
  readonly onActivity: () => void;
  /** Called for every JSON-RPC request (the scheduler yields to them). */
  readonly onCall: () => void;
}

/** Codes logged at warn: failures inside the daemon or the dispatch module. */
const SERVER_FAULTS: ReadonlySet<number> = new Set([ErrorCode.Internal, ErrorCode.DeadlineExceeded]);

const INVALID_UTF8 = errorLine(null, { code: ErrorCode.ParseError, message: 'line is not valid UTF-8' });

export class Router {
  readonly #deps: RouterDeps;
  readonly #tooLong: string;

  constructor(deps: RouterDeps, maxLineBytes: number) {
    this.#deps = deps;
    this.#tooLong = errorLine(null, { code: ErrorCode.InvalidRequest, message: `line too long (limit ${maxLineBytes} bytes)` });
  }

  /** Routes one frame; `ctx.reply` or `ctx.replyInOrder` is called exactly once. */
  route(frame: Frame, ctx: CallContext): void {
    this.#deps.onActivity();
    if (frame.kind === 'too_long') return ctx.reply(this.#tooLong);
    if (frame.kind === 'invalid_utf8') return ctx.reply(INVALID_UTF8);
    const parsed = parseLine(frame.text);
    switch (parsed.kind) {
      case 'parse_error':
        return ctx.reply(errorLine(null, { code: ErrorCode.ParseError, message: parsed.message }));
      case 'batch':
        if (parsed.items.length === 0) {
          return ctx.reply(errorLine(null, { code: ErrorCode.InvalidRequest, message: 'empty batch' }));
        }
        return this.#batch(parsed.items, ctx);
      case 'control':
        return ctx.replyInOrder(() => this.#deps.control.handle(parsed.msg).then((r) => JSON.stringify(r)));
      default:
        return this.#message(parsed, ctx, (line) => ctx.reply(line));
    }
  }

  #message(msg: Message, ctx: CallContext, done: (line: string | null) => void): void {
    switch (msg.kind) {
      case 'invalid':
        return done(errorLine(msg.id, { code: ErrorCode.InvalidRequest, message: msg.message }));
      case 'control':
        void this.#deps.control.handle(msg.msg).then((r) => done(JSON.stringify(r)));
        return;
      case 'request': {
        this.#deps.onCall();
        const { id, method } = msg;
        // The pool takes params as JSON text (parsed in the worker, in the call's own fate).
        let params: string;
        try {
          params = JSON.stringify(msg.params);
        } catch {
          return done(errorLine(id, { code: ErrorCode.InvalidRequest, message: 'params nested too deeply' }));
        }
        const ticket: Ticket = this.#deps.pool.submit(method, params, (outcome: Outcome, waitMs: number) => {
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
        return;
      }
    }
  }

  #batch(items: readonly Message[], ctx: CallContext): void {
    const lines: (string | null)[] = new Array<string | null>(items.length).fill(null);
    let left = items.length;
    items.forEach((item, i) => {
      this.#message(item, ctx, (line) => {
        lines[i] = line;
        if (--left > 0) return;
        const present = lines.filter((l): l is string => l !== null);
        ctx.reply(present.length === 0 ? null : `[${present.join(',')}]`);
      });
    });
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
