/**
 * The built-in store beside another program reading its file: the daemon on
 * its defaults, one capture, a reader (Python's sqlite3 module: open, count,
 * close — what the `sqlite3` shell does), more captures with the reader in
 * between, SIGKILL, restart: every acknowledged capture must be there.
 *
 *     node dist/bench/store-peers.js [--trials 50] [--captures 20]
 *
 * Prints one summary line; exits 1 if any acknowledged capture was lost.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineReader } from '../src/client/lines.js';
import { errorCode } from './wire-error.js';

const BIN = fileURLToPath(new URL('../../bin/dispatchd.js', import.meta.url));
const SQLITE_PEER = fileURLToPath(new URL('../../bench/sqlite_peer.py', import.meta.url));

/** True where python3 with its sqlite3 module runs. */
export function canPeer(): boolean {
  return spawnSync('python3', ['-c', 'import sqlite3'], { stdio: 'ignore' }).status === 0;
}

/** Counts the memories in store.db from another process, then closes it. */
function peerRead(db: string): number {
  const r = spawnSync('python3', [SQLITE_PEER, 'read', db], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`reader failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** One request on a fresh connection; resolves with the parsed reply (rejects if the socket fails). */
export function ask(socket: string, msg: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socket);
    const lines = new LineReader((line) => {
      s.destroy();
      resolve(JSON.parse(line) as Record<string, unknown>);
    });
    s.on('data', (d: Buffer) => lines.write(d));
    s.on('error', reject);
    s.on('connect', () => s.write(`${JSON.stringify(msg)}\n`));
  });
}

function serve(home: string, ...more: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, 'serve', '--home', home, ...more], { stdio: 'ignore' });
}

/** Holds store.db's write lock for `seconds` from another process; resolves once it is held, with a promise of its end. */
export async function peerHold(db: string, seconds: number): Promise<{ released: Promise<void> }> {
  const p = spawn('python3', [SQLITE_PEER, 'hold', db, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const released = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    p.stdout?.setEncoding('utf8').on('data', (d: string) => (d.includes('locked') ? resolve() : undefined));
    p.once('exit', (code) => reject(new Error(`peer exited ${code} before it held the lock`)));
  });
  return { released };
}

function exited(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve({ code: p.exitCode, signal: p.signalCode });
  return new Promise((resolve) => p.once('exit', (code, signal) => resolve({ code, signal })));
}

export interface LockTrial {
  /** The capture stopped at its deadline was answered -32004. */
  readonly deadlineAnswered: boolean;
  /** The daemon was still alive after the stopped capture's lock wait ended. */
  readonly survivedDeadline: boolean;
  /** SIGTERM during a lock wait: how the process ended. */
  readonly drainExit: { code: number | null; signal: NodeJS.Signals | null };
  /** A start while the lock is held: served a read at once, and a capture once the lock was released. */
  readonly startedUnderLock: boolean;
}

/** Deadline, drain and start, each while another process holds store.db's write lock. */
async function lockTrial(): Promise<LockTrial> {
  const home = mkdtempSync('/tmp/dd-lock-');
  const socket = join(home, 'daemon.sock');
  const db = join(home, 'store.db');
  let daemon = serve(home, '--call-deadline-ms', '1000', '--drain-timeout-ms', '1000');
  try {
    await up(socket);
    await ask(socket, { jsonrpc: '2.0', id: 1, method: 'memory_capture', params: { text: 'seed' } });
    // 1. Deadline: the capture waits for the lock past its deadline.
    let hold = await peerHold(db, 2.5);
    const stopped = await ask(socket, { jsonrpc: '2.0', id: 1, method: 'memory_capture', params: { text: 'waits' } });
    await hold.released;
    await new Promise((r) => setTimeout(r, 500));
    const survivedDeadline = daemon.exitCode === null && daemon.signalCode === null;
    const deadlineAnswered = errorCode(stopped) === -32004;
    // 2. Drain: SIGTERM while a capture waits for the lock.
    hold = await peerHold(db, 2.5);
    const waiting = ask(socket, { jsonrpc: '2.0', id: 2, method: 'memory_capture', params: { text: 'waits during the stop' } }).catch(() => null);
    await new Promise((r) => setTimeout(r, 200));
    daemon.kill('SIGTERM');
    const drainExit = await exited(daemon);
    await waiting;
    await hold.released;
    // 3. Start while the lock is held: an existing store opens without the write lock.
    hold = await peerHold(db, 2);
    daemon = serve(home);
    await up(socket);
    const read = await ask(socket, { jsonrpc: '2.0', id: 3, method: 'memory_get', params: { id: 1 } });
    await hold.released;
    const wrote = await ask(socket, { jsonrpc: '2.0', id: 4, method: 'memory_capture', params: { text: 'after' } });
    const startedUnderLock = read.result !== null && typeof read.result === 'object' && wrote.result !== undefined;
    return { deadlineAnswered, survivedDeadline, drainExit, startedUnderLock };
  } finally {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGKILL');
      await exited(daemon);
    }
    rmSync(home, { recursive: true, force: true });
  }
}

async function up(socket: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await ask(socket, { type: 'status' }).then(
      (r) => r.ok === true,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no daemon answered on ${socket}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface ReaderTrial {
  readonly acknowledged: number;
  readonly lost: number;
}

/** One trial on a fresh home; the daemon is killed with SIGKILL after the captures and started again. */
export async function readerThenKill(captures: number): Promise<ReaderTrial> {
  const home = mkdtempSync('/tmp/dd-peer-');
  const socket = join(home, 'daemon.sock');
  let daemon = serve(home);
  try {
    await up(socket);
    const ids: number[] = [];
    const capture = async (text: string): Promise<void> => {
      const r = await ask(socket, { jsonrpc: '2.0', id: 1, method: 'memory_capture', params: { text } });
      if (r.result !== undefined) ids.push((r.result as { id: number }).id);
    };
    await capture('before the reader');
    // Threads started on demand open the store while the reader comes and goes.
    await Promise.all(Array.from({ length: 8 }, (_, i) => ask(socket, { jsonrpc: '2.0', id: i, method: 'memory_recall', params: { cue: 'reader' } })));
    peerRead(join(home, 'store.db'));
    for (let i = 0; i < captures; i++) {
      await capture(`after the reader ${i}`);
      if (i === Math.floor(captures / 2)) peerRead(join(home, 'store.db'));
    }
    daemon.kill('SIGKILL');
    await new Promise((r) => daemon.once('exit', r));
    daemon = serve(home);
    await up(socket);
    let lost = 0;
    for (const id of ids) {
      const r = await ask(socket, { jsonrpc: '2.0', id: 1, method: 'memory_get', params: { id } });
      if (r.result === null || typeof r.result !== 'object') lost++;
    }
    return { acknowledged: ids.length, lost };
  } finally {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGKILL');
      await new Promise((r) => daemon.once('exit', r));
    }
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  if (!canPeer()) {
    console.error('python3 with its sqlite3 module is needed for the reader');
    process.exit(2);
  }
  const trials = arg('--trials', 50);
  if (process.argv.includes('--locks')) {
    const tally = { deadline: 0, survived: 0, drained: 0, started: 0 };
    const bad: string[] = [];
    for (let i = 0; i < trials; i++) {
      const r = await lockTrial();
      tally.deadline += r.deadlineAnswered ? 1 : 0;
      tally.survived += r.survivedDeadline ? 1 : 0;
      tally.drained += r.drainExit.code === 0 ? 1 : 0;
      tally.started += r.startedUnderLock ? 1 : 0;
      if (r.drainExit.code !== 0) bad.push(`drain exit ${r.drainExit.code ?? r.drainExit.signal}`);
    }
    console.log(
      `store under a held write lock, ${trials} trials: deadline answered -32004 ${tally.deadline}, daemon alive after it ${tally.survived}, ` +
        `SIGTERM during the wait exited 0 ${tally.drained}, start under the lock served ${tally.started}${bad.length > 0 ? `; ${bad.join(', ')}` : ''}`,
    );
    process.exit(Object.values(tally).every((n) => n === trials) ? 0 : 1);
  }
  let acknowledged = 0;
  let lost = 0;
  let trialsLosing = 0;
  for (let i = 0; i < trials; i++) {
    const r = await readerThenKill(arg('--captures', 20));
    acknowledged += r.acknowledged;
    lost += r.lost;
    if (r.lost > 0) trialsLosing++;
  }
  console.log(`store beside a reader, SIGKILL, restart: ${trials} trials, ${acknowledged} acknowledged captures, ${lost} lost (${trialsLosing} trials lost some)`);
  process.exit(lost === 0 ? 0 : 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
