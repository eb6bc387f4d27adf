/**
 * Test helpers: fixture paths, a raw NDJSON connection, and the built CLI as
 * a child process (`daemons.ts` starts daemons and tears them down).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { LineReader } from '../src/client/lines.js';

export const FIXTURE = fileURLToPath(new URL('./fixtures/dispatch.js', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/dispatchd.js', import.meta.url));
export const silent = pino({ level: 'silent' });

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A raw NDJSON connection that collects response lines. */
export class Conn {
  readonly socket: Socket;
  readonly lines: string[] = [];
  // Whole lines only: a last line the server cut short is never seen (no `end()`).
  readonly #reader = new LineReader((line) => this.lines.push(line));
  #waiters: (() => void)[] = [];
  ended = false;
  /** The last byte seen, and whether any came yet: the reader forgives what the daemon must never send. */
  #last = -1;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      // One `\n`-terminated JSON value per line, nothing else: a CR, a blank line or a BOM in a reply
      // is a server bug the shared reader would hide, so it becomes a line no test can parse.
      const odd = d.includes(0x0d) ? 'a CR' : d.includes('\n\n') || ((this.#last === -1 || this.#last === 0x0a) && d[0] === 0x0a) ? 'a blank line' : this.#last === -1 && d.subarray(0, 3).equals(BOM) ? 'a BOM' : null;
      if (odd !== null) this.lines.push(`NOT NDJSON: the server sent ${odd}`);
      if (d.length > 0) this.#last = d[d.length - 1] as number;
      this.#reader.write(d);
      this.#wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.#wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  static open(path: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }

  send(data: string | Buffer | object): void {
    this.socket.write(typeof data === 'string' || Buffer.isBuffer(data) ? data : `${JSON.stringify(data)}\n`);
  }

  /** Waits for `n` lines in total (or throws after `ms`). */
  async waitLines(n: number, ms = 5000): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (this.lines.length < n) {
      if (this.ended) throw new Error(`connection ended with ${this.lines.length}/${n} lines: ${this.lines.join(' | ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${this.lines.length}/${n} lines: ${this.lines.join(' | ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines.slice(0, n);
  }

  /** Waits for the `n`th line (1-based) and parses it. */
  async json(n: number, ms?: number): Promise<Record<string, unknown>> {
    const lines = await this.waitLines(n, ms);
    return JSON.parse(lines[n - 1] as string) as Record<string, unknown>;
  }

  /** Waits until the server ends the connection. */
  async waitEnd(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('connection did not end');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One JSON-RPC request line. */
export const rpc = (id: unknown, method: string, params?: unknown): string =>
  `${JSON.stringify(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params })}\n`;

/** Sends one message on a fresh connection and returns the parsed reply. */
export async function roundTrip(path: string, msg: string | object): Promise<Record<string, unknown>> {
  const c = await Conn.open(path);
  try {
    c.send(typeof msg === 'string' ? msg : `${JSON.stringify(msg)}\n`);
    return await c.json(1);
  } finally {
    c.close();
  }
}

export interface Child {
  readonly proc: ChildProcess;
  stderr: string;
  stdout: string;
  readonly exited: Promise<number | null>;
}

/** Runs the built CLI as a child process. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, opts: { shell?: string } = {}): Child {
  const proc = opts.shell
    ? spawn('sh', ['-c', opts.shell], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const child: Child = {
    proc,
    stderr: '',
    stdout: '',
    exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))),
  };
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (child.stderr += d));
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (child.stdout += d));
  return child;
}

/** Stops a child daemon now (if it still runs) and waits for it. */
export async function killChild(d: Child): Promise<void> {
  if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL');
  await d.exited;
}

/**
 * Waits for a child to exit, failing (and killing it) after `ms`; returns its
 * exit code and how long after its first "failed to start" / "dispatchd: "
 * line it exited.
 */
export async function exitWithin(d: Child, ms: number): Promise<{ code: number | null; afterMessageMs: number | null }> {
  let saidAt: number | null = null;
  const watch = (): void => {
    if (saidAt === null && /failed to start|dispatchd: /.test(d.stderr)) saidAt = Date.now();
  };
  d.proc.stderr?.on('data', watch);
  const timer = setTimeout(() => d.proc.kill('SIGKILL'), ms);
  const code = await d.exited;
  clearTimeout(timer);
  watch();
  assert.notEqual(d.proc.signalCode, 'SIGKILL', `still running after ${ms} ms: ${d.stderr}`);
  return { code, afterMessageMs: saidAt === null ? null : Date.now() - saidAt };
}

/** Connects as soon as `path` accepts (retrying every millisecond), for as long as `child` runs. */
export async function connectEarly(path: string, child: Child, ms = 20_000): Promise<Conn> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = await Conn.open(path).catch(() => null);
    if (c !== null) return c;
    if (child.proc.exitCode !== null) throw new Error(`daemon exited: ${child.stderr}`);
    if (Date.now() > deadline) throw new Error(`nothing listening after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Polls until something answers a status message on `path`. */
export async function waitForSocket(path: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await roundTrip(path, { type: 'status' });
      if (r.ok === true) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`nothing answered on ${path} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { join };
