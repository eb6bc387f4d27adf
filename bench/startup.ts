/**
 * The `startup` scenario, side by side in one run: spawn → first answered
 * `echo` for dispatchd (built-in store — on each SQLite binding this Node and install have — and the bench fixture module), the
 * asyncio baseline (when python3 is there) and a bare Node echo server; the
 * wall time of `dispatchd status` and `dispatchd --version` against bare
 * `node -e 0`; idle RSS after start. Runs are interleaved (the order rotates
 * each round) so a noisy neighbour slows every target alike, and medians are
 * reported.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sqliteBindings } from './bindings.js';
import { BENCH_FIXTURE, BIN, rssMiB } from './procs.js';
import type { Headline } from './types.js';
import type { Progress } from './types.js';

const ECHO_SERVER = fileURLToPath(new URL('./echo-server.js', import.meta.url));
const PISCINA_SERVER = fileURLToPath(new URL('./piscina-server.js', import.meta.url));
// Not compiled: the same file from the source tree (dist/bench → bench).
const ASYNCIO = fileURLToPath(new URL('../../bench/asyncio_baseline.py', import.meta.url));

export interface Stats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface StartupRow {
  readonly target: string;
  /** spawn → first answered echo, ms. */
  readonly firstAnswerMs: Stats;
  /** Resident set after a second of idling, measured after the last run. */
  readonly idleRssMiB: number | null;
}

export interface CliRow {
  readonly command: string;
  /** spawn → exit, ms. */
  readonly wallMs: Stats;
  /** median ÷ the median of `node -e 0`. */
  readonly vsNode: number;
}

export interface StartupResult {
  readonly runs: number;
  readonly rows: readonly StartupRow[];
  readonly cli: readonly CliRow[];
  /** Targets that could not run here (python3 missing), with why. */
  readonly skipped: readonly string[];
}

interface Target {
  readonly name: string;
  /** Command and arguments, given the temp dir to put the socket (and home) in. */
  readonly argv: (dir: string) => { cmd: string; args: string[]; socket: string };
}

const round = (x: number): number => Math.round(x * 10) / 10;

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
  return { median: round(mid), min: round(s[0] ?? Number.NaN), max: round(s[s.length - 1] ?? Number.NaN) };
}

function dispatchdTarget(name: string, dispatch: string | null, extra: readonly string[] = []): Target {
  return {
    name,
    argv: (dir) => ({
      cmd: process.execPath,
      args: [BIN, 'serve', '--home', dir, '--log-level', 'warn', ...(dispatch === null ? [] : ['--dispatch', dispatch]), ...extra],
      socket: join(dir, 'daemon.sock'),
    }),
  };
}

function targets(python: boolean): Target[] {
  const list = [dispatchdTarget('dispatchd (built-in store)', null)];
  // The built-in store on its other binding, where this Node and install have both (the default is the first).
  for (const b of sqliteBindings().slice(1)) list.push(dispatchdTarget(`dispatchd (built-in store on ${b})`, null, ['--store-binding', b]));
  list.push(dispatchdTarget('dispatchd (fixture module)', BENCH_FIXTURE));
  if (python) list.push({ name: 'asyncio baseline (python3)', argv: (dir) => ({ cmd: 'python3', args: [ASYNCIO, join(dir, 'b.sock')], socket: join(dir, 'b.sock') }) });
  list.push({ name: 'bare node echo server', argv: (dir) => ({ cmd: process.execPath, args: [ECHO_SERVER, join(dir, 'e.sock')], socket: join(dir, 'e.sock') }) });
  // The floor of the shape: node, piscina, its threads booting and loading the same fixture — and nothing of ours.
  list.push({ name: 'minimal piscina server', argv: (dir) => ({ cmd: process.execPath, args: [PISCINA_SERVER, join(dir, 'p.sock')], socket: join(dir, 'p.sock') }) });
  return list;
}

/** One echo round trip; rejects when nothing listens yet. */
function echoOnce(socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socket);
    s.once('error', reject);
    s.once('close', () => reject(new Error('connection closed before an answer')));
    s.once('connect', () => s.write('{"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":1}}\n'));
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (!buf.includes('\n')) return;
      s.destroy();
      if (buf.includes('"result"')) resolve();
      else reject(new Error(`echo failed: ${buf.trim().slice(0, 200)}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Spawn → first answered echo, polling the socket every 2 ms; optionally the RSS after a second idle. */
async function firstAnswer(t: Target, withRss: boolean): Promise<{ ms: number; rss: number | null }> {
  const dir = mkdtempSync('/tmp/dds-');
  const { cmd, args, socket } = t.argv(dir);
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${t.name} exited with ${child.exitCode} before answering`);
      if (performance.now() - t0 > 30_000) throw new Error(`${t.name}: no answer within 30 s`);
      try {
        await echoOnce(socket);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw err;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    const ms = performance.now() - t0;
    let rss: number | null = null;
    if (withRss) {
      await new Promise((r) => setTimeout(r, 1000));
      rss = rssMiB(child.pid as number);
    }
    return { ms, rss };
  } finally {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Wall time of a short command, spawn → exit. */
function wall(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${String(r.stderr).trim().slice(0, 300)}`);
  return ms;
}

/** `dispatchd status` (against a running daemon) and `--version`, each against bare `node -e 0`, interleaved. */
async function cliRows(runs: number, progress: Progress): Promise<CliRow[]> {
  const dir = mkdtempSync('/tmp/dds-');
  const daemon = spawn(process.execPath, [BIN, 'serve', '--home', dir, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const t0 = performance.now();
    for (;;) {
      try {
        await echoOnce(join(dir, 'daemon.sock'));
        break;
      } catch (err) {
        if (performance.now() - t0 > 30_000 || daemon.exitCode !== null) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const commands: [string, string[]][] = [
      ['node -e 0', ['-e', '0']],
      ['dispatchd status', [BIN, 'status', '--home', dir]],
      ['dispatchd --version', [BIN, '--version']],
    ];
    const times = commands.map(() => [] as number[]);
    for (const [, args] of commands) wall(args); // warm the file cache once
    for (let i = 0; i < runs; i++) {
      for (let k = 0; k < commands.length; k++) {
        const j = (i + k) % commands.length;
        (times[j] as number[]).push(wall((commands[j] as [string, string[]])[1]));
      }
      progress('startup: CLI', (i + 1) / runs);
      await new Promise((r) => setImmediate(r));
    }
    const node = stats(times[0] as number[]).median;
    return commands.map(([command], j) => {
      const s = stats(times[j] as number[]);
      return { command, wallMs: s, vsNode: Math.round((s.median / node) * 100) / 100 };
    });
  } finally {
    await stop(daemon);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startup(o: { runs: number }, progress: Progress): Promise<StartupResult> {
  const python = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0 && existsSync(ASYNCIO);
  const list = targets(python);
  const times = list.map(() => [] as number[]);
  const rss = list.map((): number | null => null);
  for (let i = 0; i < o.runs; i++) {
    for (let k = 0; k < list.length; k++) {
      const j = (i + k) % list.length;
      const r = await firstAnswer(list[j] as Target, i === o.runs - 1);
      (times[j] as number[]).push(r.ms);
      if (r.rss !== null) rss[j] = r.rss;
      progress('startup: spawn → first answer', (i * list.length + k + 1) / (o.runs * list.length));
    }
  }
  const rows = list.map((t, j) => ({ target: t.name, firstAnswerMs: stats(times[j] as number[]), idleRssMiB: rss[j] ?? null }));
  const cli = await cliRows(o.runs, progress);
  return { runs: o.runs, rows, cli, skipped: python ? [] : ['asyncio baseline: python3 not found'] };
}

const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

/** The markdown section for the report. */
export function startupMarkdown(r: StartupResult): string[] {
  const base = r.rows.find((x) => x.target.startsWith('asyncio'));
  const floor = r.rows.find((x) => x.target === 'minimal piscina server');
  const over = (x: StartupRow): string => (floor && x.target.startsWith('dispatchd') ? `+${round(x.firstAnswerMs.median - floor.firstAnswerMs.median)}` : '—');
  const lines = [
    `## startup — spawn → first answered echo (${r.runs} interleaved runs each)`,
    '',
    '| target | median ms | min | max | ÷ asyncio | over the piscina floor, ms | idle RSS MiB |',
    '|---|---|---|---|---|---|---|',
    ...r.rows.map((x) => `| ${x.target} | ${x.firstAnswerMs.median} | ${x.firstAnswerMs.min} | ${x.firstAnswerMs.max} | ${base ? `${ratio(x.firstAnswerMs.median, base.firstAnswerMs.median)}×` : '—'} | ${over(x)} | ${x.idleRssMiB ?? '—'} |`),
    '',
    '| command | median ms | min | max | ÷ node -e 0 |',
    '|---|---|---|---|---|',
    ...r.cli.map((c) => `| \`${c.command}\` | ${c.wallMs.median} | ${c.wallMs.min} | ${c.wallMs.max} | ${c.vsNode}× |`),
    '',
  ];
  if (r.skipped.length > 0) lines.push(`Not run: ${r.skipped.join('; ')}.`, '');
  return lines;
}

/** The headline lines, each with its target (issue 16). */
export function startupHeadlines(r: StartupResult): Headline[] {
  const out: Headline[] = [];
  const base = r.rows.find((x) => x.target.startsWith('asyncio'));
  for (const row of r.rows.filter((x) => x.target.startsWith('dispatchd'))) {
    const m = row.firstAnswerMs.median;
    out.push({ name: `startup: spawn → first answer, ${row.target}`, value: `${m} ms`, target: '≤ 150 ms', met: m <= 150 });
    if (base) {
      const q = m / base.firstAnswerMs.median;
      out.push({ name: `startup: ${row.target} ÷ asyncio baseline`, value: `${m} / ${base.firstAnswerMs.median} ms = ${ratio(m, base.firstAnswerMs.median)}×`, target: '≤ 0.75×', met: q <= 0.75 });
    }
  }
  const builtin = r.rows.find((x) => x.target === 'dispatchd (built-in store)');
  if (builtin?.idleRssMiB != null) out.push({ name: 'startup: idle RSS, defaults (built-in store)', value: `${builtin.idleRssMiB} MiB`, target: '≤ 100 MiB', met: builtin.idleRssMiB <= 100 });
  const status = r.cli.find((c) => c.command === 'dispatchd status');
  if (status) out.push({ name: 'CLI: dispatchd status ÷ node -e 0', value: `${status.wallMs.median} ms = ${status.vsNode}×`, target: '≤ 1.4×', met: status.vsNode <= 1.4 });
  const version = r.cli.find((c) => c.command === 'dispatchd --version');
  if (version) out.push({ name: 'CLI: dispatchd --version ÷ node -e 0', value: `${version.wallMs.median} ms = ${version.vsNode}×` });
  return out;
}
