/**
 * Fresh starts under socket activation, as systemd does it: a fresh home
 * each time, `systemd-socket-activate` holds the socket, and the first
 * connection carries a burst of calls (captures, recalls, gets) on the
 * built-in store that the daemon must serve as it starts. Counts every
 * error and every call left unanswered.
 *
 *     node dist/bench/fresh-starts.js [--starts 50] [--calls 40]
 *
 * Prints one summary line; exits 1 if any start lost or failed a call.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineReader } from '../src/client/lines.js';
import { errorCode } from './wire-error.js';

const BIN = fileURLToPath(new URL('../../bin/dispatchd.js', import.meta.url));

export interface FreshStartsResult {
  readonly starts: number;
  readonly calls: number;
  /** Calls answered with an error, by code. */
  readonly errors: Record<string, number>;
  /** Calls never answered. */
  readonly lost: number;
  /** Starts with any error or lost call. */
  readonly failedStarts: number;
  /** Median ms from the first byte sent to the last answer. */
  readonly medianMs: number;
}

/** True where `systemd-socket-activate` can be run. */
export function canActivate(): boolean {
  return spawnSync('systemd-socket-activate', ['--help'], { stdio: 'ignore' }).status === 0;
}

async function connectWhenListening(path: string, stderr: () => string): Promise<Socket> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await new Promise<Socket | null>((resolve) => {
      const c = createConnection(path);
      c.once('connect', () => resolve(c));
      c.once('error', () => resolve(null));
    });
    if (s !== null) return s;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${path}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function burst(calls: number): string {
  const lines: string[] = [];
  for (let i = 0; i < calls; i++) {
    const kind = i % 4;
    const call =
      kind === 0 || kind === 1
        ? { method: 'memory_capture', params: { text: `fresh start note ${i}`, tags: ['fresh'] } }
        : kind === 2
          ? { method: 'memory_recall', params: { cue: 'fresh note' } }
          : { method: 'memory_get', params: { id: 1 } };
    lines.push(JSON.stringify({ jsonrpc: '2.0', id: i, ...call }));
  }
  return `${lines.join('\n')}\n`;
}

/** One start: returns the answers' error codes (or 'lost') and the time to the last answer. */
async function oneStart(calls: number): Promise<{ errors: string[]; ms: number }> {
  const home = mkdtempSync('/tmp/dd-fresh-');
  const socket = join(home, 'daemon.sock');
  const activator = spawn('systemd-socket-activate', ['-l', socket, process.execPath, BIN, 'serve', '--home', home], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  activator.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  try {
    // The activator binds and listens first (a connect before listen() is refused: try again);
    // the daemon starts on the first connection, which carries the burst.
    const s = await connectWhenListening(socket, () => stderr);
    const answers = new Map<number, string>();
    const started = performance.now();
    let lastAt = started;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        s.destroy();
        resolve();
      }, 30_000);
      const lines = new LineReader((line) => {
        const m = JSON.parse(line) as { id: number };
        answers.set(m.id, String(errorCode(m) ?? 'ok'));
        lastAt = performance.now();
      });
      s.on('data', (d: Buffer) => {
        lines.write(d);
        if (answers.size >= calls) {
          clearTimeout(timer);
          s.end();
          resolve();
        }
      });
      s.on('error', () => {
        clearTimeout(timer);
        resolve();
      });
      s.write(burst(calls));
    });
    const errors: string[] = [];
    for (let i = 0; i < calls; i++) {
      const a = answers.get(i);
      if (a === undefined) errors.push('lost');
      else if (a !== 'ok') errors.push(a);
    }
    if (errors.length > 0 && process.env.FRESH_STARTS_VERBOSE) console.error(`start failed (${errors.length} errors): ${stderr.slice(-2000)}`);
    return { errors, ms: lastAt - started };
  } finally {
    activator.kill('SIGTERM');
    await new Promise((r) => (activator.exitCode !== null ? r(null) : activator.once('exit', r)));
    rmSync(home, { recursive: true, force: true });
  }
}

export async function freshStarts(starts: number, calls: number): Promise<FreshStartsResult> {
  const errors: Record<string, number> = {};
  let lost = 0;
  let failedStarts = 0;
  const times: number[] = [];
  for (let i = 0; i < starts; i++) {
    const r = await oneStart(calls);
    times.push(r.ms);
    if (r.errors.length > 0) failedStarts++;
    for (const e of r.errors) {
      if (e === 'lost') lost++;
      else errors[e] = (errors[e] ?? 0) + 1;
    }
  }
  times.sort((a, b) => a - b);
  return { starts, calls, errors, lost, failedStarts, medianMs: times[Math.floor(times.length / 2)] ?? 0 };
}

async function main(): Promise<void> {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  if (!canActivate()) {
    console.error('systemd-socket-activate is not installed (Debian: apt-get install systemd)');
    process.exit(2);
  }
  const r = await freshStarts(arg('--starts', 50), arg('--calls', 40));
  console.log(
    `fresh starts under socket activation: ${r.starts} starts × ${r.calls} calls on the first connection; ` +
      `failed starts ${r.failedStarts}, errors ${JSON.stringify(r.errors)}, lost ${r.lost}; median first-burst ${r.medianMs.toFixed(0)} ms`,
  );
  process.exit(r.failedStarts === 0 ? 0 : 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
