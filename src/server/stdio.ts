/**
 * The stdio transport: one conversation on stdin/stdout, served until the
 * client ends its side. stdout is never ended (the process may still log
 * or be read); the session is simply over.
 */
import type { Readable, Writable } from 'node:stream';
import type { StdioConnectionsStatus } from '../lifecycle/status-reply.js';
import type { Logger } from 'pino';
import { Connection, type ConnectionLimits } from './connection.js';
import type { Router } from './router.js';
import type { Transport } from './transport.js';
import { within } from '../lifecycle/within.js';

export interface StdioOptions {
  readonly input: Readable;
  readonly output: Writable;
  readonly router: Router;
  readonly limits: ConnectionLimits;
  readonly log: Logger;
}

export class StdioTransport implements Transport {
  readonly #conn: Connection;
  readonly finished: Promise<void>;
  readonly served = null;

  constructor({ input, output, router, limits, log }: StdioOptions) {
    let finish: () => void = () => {};
    this.finished = new Promise((resolve) => (finish = resolve));
    this.#conn = new Connection({ input, output, router, limits, log, onClose: () => finish(), endOutput: false });
  }

  /** Stops reading; waits up to `drainMs` for the answers. The streams stay open (stdout is not ours to end). */
  close(drainMs: number): Promise<boolean> {
    this.#conn.stopReading();
    return within(this.#conn.idle(), drainMs);
  }

  destroy(): void {
    this.#conn.destroy();
  }

  get inFlight(): number {
    return this.#conn.inFlight;
  }

  get foregroundConnections(): number {
    return !this.#conn.closed && this.#conn.foreground ? 1 : 0;
  }

  connections(): StdioConnectionsStatus {
    return { active: this.#conn.closed ? 0 : 1 };
  }

  /** No socket file: nothing to unlink. */
  unlinkOwnPath(): void {}
}
