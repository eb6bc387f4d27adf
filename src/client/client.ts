/**
 * A small client for dispatchd (or any NDJSON JSON-RPC server on a unix
 * socket): connect with a timeout, match responses by id, and reject every
 * pending call with -32002 `daemon_unreachable` when the socket dies or the
 * client is closed; a call past its own timeout rejects with -32005. After
 * a death, the next call makes one reconnect attempt. Replies are read by
 * `LineReader` and their errors by `errorOfResponse`, the readers every
 * client shares, and matched by id, or by their data — never by their
 * wording. Replies are parsed losslessly: an integer outside Number's safe
 * range arrives as a `bigint` (see `lossless.ts`).
 */
import { createConnection, type Socket } from 'node:net';
import { boundOf, CallTimeoutError, DaemonUnreachableError, errorOfResponse, type RpcError } from '../contract/errors.js';
import { parseJson, stringifyJson } from '../wire/lossless.js';
import { LineReader } from './lines.js';

export interface ClientOptions {
  readonly socket: string;
  readonly connectTimeoutMs?: number;
  /** Per-call timeout in ms; 0 waits forever. */
  readonly callTimeoutMs?: number;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface PendingCall extends Pending {
  /** Of the line sent, to match a refusal that could not name its id. */
  readonly bytes: number;
  readonly depth: number;
}

/** Deepest nesting of objects and arrays in a JSON text; one linear pass. */
function nestingOf(json: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Which pending lines pass the bound an id-null refusal names in its data, if it names one a line can be measured against. */
function refusedFor(data: unknown): ((p: PendingCall) => boolean) | null {
  const b = boundOf(data);
  if (b?.bound === 'max_line_bytes') return (p) => p.bytes > b.limit;
  if (b?.bound === 'max_depth') return (p) => p.depth > b.limit;
  return null;
}

export class Client {
  readonly #opts: Required<ClientOptions>;
  #socket: Socket | null = null;
  #connecting: Promise<Socket> | null = null;
  #nextId = 1;
  readonly #calls = new Map<number, PendingCall>();
  #controls: Pending[] = [];
  #closed = false;

  constructor(opts: ClientOptions) {
    this.#opts = { connectTimeoutMs: 5000, callTimeoutMs: 0, ...opts };
  }

  /** Connects (or reuses the connection). */
  connect(): Promise<Socket> {
    if (this.#socket !== null) return Promise.resolve(this.#socket);
    this.#connecting ??= new Promise<Socket>((resolve, reject) => {
      const s = createConnection(this.#opts.socket);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new DaemonUnreachableError(`connect to ${this.#opts.socket} timed out after ${this.#opts.connectTimeoutMs} ms`, 'connect_timeout'));
      }, this.#opts.connectTimeoutMs);
      s.once('error', (err) => {
        clearTimeout(timer);
        const errno = (err as NodeJS.ErrnoException).code;
        reject(new DaemonUnreachableError(`${errno ?? err.message} on ${this.#opts.socket}`, 'connect_failed', errno));
      });
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        this.#attach(s);
        resolve(s);
      });
    }).finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  #attach(s: Socket): void {
    this.#socket = s;
    const lines = new LineReader((line) => this.#onLine(line));
    s.on('data', (chunk: Buffer) => lines.write(chunk));
    s.on('end', () => lines.end());
    const die = (why: string): void => {
      if (this.#socket !== s) return;
      this.#socket = null;
      this.#rejectAll(why);
    };
    s.on('error', (e) => die(`socket error: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    s.on('close', () => die('connection closed by the daemon'));
  }

  /** Every call and control request still waiting gets -32002. */
  #rejectAll(why: string, kind: 'connection_lost' | 'closed' = 'connection_lost'): void {
    const err = (): Error => new DaemonUnreachableError(why, kind);
    const calls = [...this.#calls.values()];
    const controls = this.#controls;
    this.#calls.clear();
    this.#controls = [];
    for (const p of calls) p.reject(err());
    for (const p of controls) p.reject(err());
  }

  #onLine(line: string): void {
    let parsed: unknown;
    try {
      parsed = parseJson(line);
    } catch {
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return;
    const msg = parsed as Record<string, unknown>;
    if (!('jsonrpc' in msg)) {
      this.#controls.shift()?.resolve(msg);
      return;
    }
    const error = errorOfResponse(msg);
    if (msg.id === null && error !== null) return this.#refused(error);
    const p = typeof msg.id === 'number' ? this.#calls.get(msg.id) : undefined;
    if (p === undefined) return;
    this.#calls.delete(msg.id as number);
    if (error !== null) p.reject(error);
    else p.resolve(msg.result);
  }

  /**
   * dispatchd names the id of every refusal it can, and this client writes
   * the id first, so `id: null` is rare: a line whose id the daemon could
   * not read. Every line this client sends is one call it built, so such a
   * refusal is matched, by the bound its data names, to the oldest pending
   * call whose line passes it. A refusal naming a bound no pending line
   * passes is dropped, not given to a call that merely happens to be
   * pending: the refused call may have timed out already, and the pending
   * one will still get its own answer. One without such data (another
   * server) goes to the call pending, if there is just one.
   */
  #refused(error: RpcError): void {
    const passes = refusedFor(error.data);
    let found: [number, PendingCall] | undefined;
    if (passes === null) {
      if (this.#calls.size === 1) found = this.#calls.entries().next().value;
    } else {
      for (const entry of this.#calls) {
        if (passes(entry[1])) {
          found = entry;
          break;
        }
      }
    }
    if (found === undefined) return;
    this.#calls.delete(found[0]);
    found[1].reject(error);
  }

  async #send(line: string): Promise<void> {
    if (this.#closed) throw new DaemonUnreachableError('client is closed', 'closed');
    const s = await this.connect();
    s.write(`${line}\n`);
  }

  #withTimeout<T>(p: Promise<T>, onTimeout: () => void): Promise<T> {
    const ms = this.#opts.callTimeoutMs;
    if (ms <= 0) return p;
    let timer: NodeJS.Timeout;
    return Promise.race([
      p,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => {
          onTimeout();
          reject(new CallTimeoutError(ms));
        }, ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Calls a JSON-RPC method; rejects with an RpcError carrying the server's code. */
  call(method: string, params?: unknown): Promise<unknown> {
    const id = this.#nextId++;
    const body = params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
    // Serialised before anything is registered: params that cannot be sent (a cycle) reject this
    // call alone, and leave no pending entry for close() to reject with nobody listening.
    let line: string;
    try {
      line = stringifyJson(body);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const bytes = Buffer.byteLength(line);
    const depth = nestingOf(line);
    const result = new Promise<unknown>((resolve, reject) => this.#calls.set(id, { resolve, reject, bytes, depth }));
    this.#send(line).catch((err: Error) => {
      this.#calls.get(id)?.reject(err);
      this.#calls.delete(id);
    });
    return this.#withTimeout(result, () => this.#calls.delete(id));
  }

  /** Sends a control message (`{type: …}`) and resolves with its plain reply. */
  control(msg: { type: string } & Record<string, unknown>): Promise<Record<string, unknown>> {
    // Before queueing: replies are matched by order, so an entry for a message never sent would take the next one's reply.
    let line: string;
    try {
      line = stringifyJson(msg);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#controls.push({ resolve: resolve as (v: unknown) => void, reject });
    });
    const entry = this.#controls[this.#controls.length - 1] as Pending;
    this.#send(line).catch((err: Error) => {
      this.#controls = this.#controls.filter((p) => p !== entry);
      entry.reject(err);
    });
    return this.#withTimeout(reply, () => undefined);
  }

  /** Closes the connection; calls still waiting reject with -32002. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#socket?.end();
    this.#socket = null;
    this.#rejectAll('client is closed', 'closed');
  }
}
