/**
 * One client conversation over any pair of streams (a unix socket, or
 * stdin/stdout): frames in, one response line out per request. Owns the
 * per-connection bounds — requests in flight, unsent response bytes, a
 * reader that stops reading — and the half-close rule: when the client ends
 * its side, every response is still written before we end ours.
 */
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { LineFramer, type Frame } from '../wire/framing.js';
import type { Ticket } from '../pool/pool.js';
import type { CallContext, Router } from './router.js';

export interface ConnectionLimits {
  readonly maxInFlight: number;
  readonly maxLineBytes: number;
  readonly maxWriteBuffer: number;
  readonly slowReaderTimeoutMs: number;
}

/** What a conversation runs on; `endOutput` false for stdout, which a session never ends. */
export interface ConnectionOptions {
  readonly input: Readable;
  readonly output: Writable;
  readonly router: Router;
  readonly limits: ConnectionLimits;
  readonly log: Logger;
  readonly onClose: (conn: Connection) => void;
  readonly endOutput: boolean;
}

type PauseReason = 'in_flight' | 'write_buffer' | 'draining';

export class Connection implements CallContext {
  readonly log: Logger;
  readonly tickets = new Set<Ticket>();
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #router: Router;
  readonly #limits: ConnectionLimits;
  readonly #framer: LineFramer;
  readonly #onClose: (conn: Connection) => void;
  readonly #paused = new Set<PauseReason>();
  #inFlight = 0;
  #readEnded = false;
  #closed = false;
  #foreground = false;
  #controlChain: Promise<void> = Promise.resolve();
  #slowTimer: NodeJS.Timeout | null = null;
  #idleWaiters: (() => void)[] = [];
  readonly #endOutput: boolean;
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#output.uncork();
  };

  constructor({ input, output, router, limits, log, onClose, endOutput }: ConnectionOptions) {
    this.#endOutput = endOutput;
    this.#input = input;
    this.#output = output;
    this.#router = router;
    this.#limits = limits;
    this.log = log;
    this.#onClose = onClose;
    // Guarded here too: frames held during a pause are delivered later, outside the 'data' handler.
    this.#framer = new LineFramer(limits.maxLineBytes, (f) => this.#guard(() => this.#onFrame(f)), () => this.#guard(() => this.#onReadEnd()));
    input.on('data', (chunk: Buffer) => this.#guard(() => this.#framer.write(chunk)));
    input.on('end', () => this.#guard(() => this.#framer.end()));
    input.on('error', (err) => this.#fail(err));
    if (output !== (input as unknown)) output.on('error', (err) => this.#fail(err));
    output.on('drain', () => this.#onDrain());
    output.on('close', () => this.#close());
  }

  /** Requests received and not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether this connection has carried foreground work (SPEC §7), not only control messages. */
  get foreground(): boolean {
    return this.#foreground;
  }

  markForeground(): void {
    this.#foreground = true;
  }

  #onFrame(frame: Frame): void {
    this.#inFlight++;
    if (this.#inFlight >= this.#limits.maxInFlight) this.#pause('in_flight');
    this.#router.route(frame, this);
  }

  reply(line: string | null): void {
    this.#inFlight--;
    if (line !== null) this.#write(line);
    if (this.#inFlight < this.#limits.maxInFlight) this.#resume('in_flight');
    this.#settle();
  }

  replyInOrder(run: () => Promise<string | null>): void {
    this.#controlChain = this.#controlChain.then(run).then(
      (l) => this.reply(l),
      () => this.reply(null),
    );
  }

  #write(line: string): void {
    if (this.#closed || this.#output.destroyed || this.#output.writableEnded) return;
    // The replies written in one go (a batch's results arrive together) leave in one write
    // (writev) instead of a syscall, and a wake-up of the client, per reply.
    if (!this.#corked) {
      this.#corked = true;
      this.#output.cork();
      process.nextTick(this.#uncork);
    }
    if (!this.#output.write(`${line}\n`) || this.#output.writableLength > this.#limits.maxWriteBuffer) {
      this.#pause('write_buffer');
      this.#slowTimer ??= setTimeout(() => {
        this.log.warn({ unsent_bytes: this.#output.writableLength, after_ms: this.#limits.slowReaderTimeoutMs }, 'client is not reading its responses; disconnecting');
        this.destroy();
      }, this.#limits.slowReaderTimeoutMs);
    }
  }

  #onDrain(): void {
    if (this.#slowTimer !== null) {
      clearTimeout(this.#slowTimer);
      this.#slowTimer = null;
    }
    this.#resume('write_buffer');
  }

  #pause(reason: PauseReason): void {
    if (this.#paused.size === 0) {
      this.#input.pause();
      this.#framer.pause();
    }
    this.#paused.add(reason);
  }

  #resume(reason: PauseReason): void {
    if (!this.#paused.delete(reason) || this.#paused.size > 0 || this.#closed) return;
    this.#framer.resume();
    this.#input.resume();
  }

  #onReadEnd(): void {
    this.#readEnded = true;
    this.#settle();
  }

  // Ends our side once the client has ended theirs and everything is answered.
  #settle(): void {
    if (this.#inFlight > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
    if (!this.#readEnded || this.#closed) return;
    // stdout can't be ended; a stdio session is simply over.
    if (this.#endOutput) this.end();
    else this.#close();
  }

  /** Stops reading new requests (graceful stop); in-flight ones still finish. */
  stopReading(): void {
    this.#pause('draining');
  }

  /** Resolves when no request of this connection is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Ends our side after what is written; the peer sees EOF. */
  end(): void {
    if (this.#endOutput && !this.#output.writableEnded) this.#output.end();
  }

  /** Drops the connection now. Safe to call twice. */
  destroy(): void {
    this.#output.destroy();
    if (this.#input !== (this.#output as unknown)) this.#input.destroy();
    this.#close();
  }

  // A bug reached by one client's bytes costs that client its connection, never the daemon.
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'internal error while reading; dropping the connection');
      this.destroy();
    }
  }

  #fail(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    // A client that vanishes mid-write is routine, not a daemon fault.
    if (code === 'EPIPE' || code === 'ECONNRESET') this.log.debug({ code }, 'connection reset by peer');
    else this.log.warn({ err }, 'connection error');
    this.destroy();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#slowTimer !== null) clearTimeout(this.#slowTimer);
    // Calls that have not started are dropped; running ones finish unseen.
    for (const t of this.tickets) t.cancel();
    this.tickets.clear();
    this.#framer.destroy();
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
    this.#onClose(this);
  }
}
