/**
 * Processes the bench starts: dispatchd itself (as a separate process, on a
 * temp socket, with the bench fixture or a user's module), the inline echo
 * ceiling server, and any server command a user names (`--cmd`). Each is
 * stopped by whoever started it; their stderr goes to a log file per process
 * when a log folder is set.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { sleep, within } from './timers.js';
import { TargetError } from './failures.js';

const BIN = fileURLToPath(new URL('../../bin/dispatchd.js', import.meta.url));
export const BENCH_FIXTURE = fileURLToPath(new URL('./fixture.js', import.meta.url));
const ECHO_SERVER = fileURLToPath(new URL('./echo-server.js', import.meta.url));
const PISCINA_SERVER = fileURLToPath(new URL('./piscina-server.js', import.meta.url));
/** The deliberately stalling server (a fixture for the open-loop probe). */
export const STALL_SERVER = fileURLToPath(new URL('./stall-server.js', import.meta.url));

export interface Proc {
  readonly socket: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Every process started and not yet stopped, so an interrupted run can stop them all. */
const live = new Set<() => Promise<void>>();

/** Registers `stop` as live until it has run; returns the wrapped stop (idempotent). */
export function tracked(stop: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  const once = (): Promise<void> => {
    done ??= stop().finally(() => live.delete(once));
    return done;
  };
  live.add(once);
  return once;
}

/** Stops every process still running (an interrupted run). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((stop) => stop()));
}

let logDir: string | null = null;
let logSeq = 0;

/**
 * Sends the stderr of every process started from now on to its own file in
 * `dir` (the results folder), so a daemon's logs never interleave with the
 * bench's report; null: inherited, as before.
 */
export function logChildrenTo(dir: string | null): void {
  logDir = dir;
}

/** The stderr of a child: a fresh log file (the caller closes the fd once spawned), or inherited. */
function stderrFor(name: string): 'inherit' | number {
  if (logDir === null) return 'inherit';
  mkdirSync(logDir, { recursive: true });
  return openSync(join(logDir, `${String(++logSeq).padStart(3, '0')}-${name}.log`), 'a');
}

/** Spawns with stderr (and stdout, unless piped) to a log file, or inherited; the parent's copy of the fd is closed at once. */
export function spawnLogged(name: string, cmd: string, args: readonly string[], opts: { detached?: boolean; stdout?: 'pipe' } = {}): ChildProcess {
  const err = stderrFor(name);
  try {
    return spawn(cmd, args, { stdio: ['ignore', opts.stdout ?? (err === 'inherit' ? 'ignore' : err), err], ...(opts.detached ? { detached: true } : {}) });
  } finally {
    if (err !== 'inherit') closeSync(err);
  }
}

function connects(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitFor(path: string, child: ChildProcess, ms = 15_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await connects(path))) {
    if (child.exitCode !== null) throw new TargetError(`the server exited with ${child.exitCode} before listening on ${path}${logDir === null ? '' : ` (its log is in ${logDir})`}`);
    if (performance.now() > deadline) throw new TargetError(`nothing listening on ${path} after ${ms} ms`);
    await sleep(10);
  }
}

/** Stops `child` (SIGTERM, then SIGKILL after `graceMs`) and removes its temp `dir`. */
export function stopper(child: ChildProcess, dir: string, graceMs = 15_000): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await within(exited, graceMs);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/** `child` once it listens on `socket`; one that never does is stopped. */
async function listening(child: ChildProcess, dir: string, socket: string): Promise<Proc> {
  const stop = tracked(stopper(child, dir));
  try {
    await waitFor(socket, child);
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, pid: child.pid as number, stop };
}

/** Starts dispatchd with the bench fixture (or `dispatch`; null: the built-in store) on a temp home. */
export async function startDispatchd(extra: string[] = [], dispatch: string | null = BENCH_FIXTURE): Promise<Proc> {
  const dir = mkdtempSync('/tmp/ddb-');
  const socket = join(dir, 'daemon.sock');
  const args = [BIN, 'serve', '--home', dir, ...(dispatch === null ? [] : ['--dispatch', dispatch]), '--log-level', 'warn', ...extra];
  const child = spawnLogged('dispatchd', process.execPath, args);
  return listening(child, dir, socket);
}

/** Starts a node script that takes its socket path as its first argument (the bench's reference servers). */
export async function startScript(script: string, extra: readonly string[] = []): Promise<Proc> {
  const dir = mkdtempSync('/tmp/ddb-');
  const socket = join(dir, 'server.sock');
  const child = spawnLogged(script.replace(/^.*\//, '').replace(/\.js$/, ''), process.execPath, [script, socket, ...extra]);
  return listening(child, dir, socket);
}

/**
 * Starts a user's server command through the shell, in a process group of
 * its own (so stopping it stops whatever it started). `{socket}` in the
 * command is replaced with a fresh temp path, unless `socket` names where it
 * listens. Waits until the socket accepts a connection.
 */
export async function startCommand(command: string, socket?: string): Promise<Proc & { readonly startMs: number }> {
  const dir = mkdtempSync('/tmp/ddb-');
  const path = socket ?? join(dir, 'server.sock');
  const t0 = performance.now();
  const child = spawnLogged('cmd', '/bin/sh', ['-c', command.replaceAll('{socket}', path)], { detached: true });
  const pid = child.pid as number;
  const group = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  const stop = tracked(async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      group('SIGTERM');
      if (!(await within(exited, 10_000))) group('SIGKILL');
    } else group('SIGKILL'); // the shell is gone; its children may not be
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    await waitFor(path, child, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket: path, pid, stop, startMs: Math.round((performance.now() - t0) * 10) / 10 };
}

/** Starts the inline echo server (the transport ceiling). */
export function startEchoServer(): Promise<Proc> {
  return startScript(ECHO_SERVER);
}

/** Starts the minimal hand-written piscina server (what this machine gives any piscina server). */
export function startPiscinaServer(): Promise<Proc> {
  return startScript(PISCINA_SERVER);
}

/** Runs `fn` against a started process and stops it afterwards, whatever happens. */
export async function withProc<T>(started: Promise<Proc>, fn: (p: Proc) => Promise<T>): Promise<T> {
  const p = await started;
  try {
    return await fn(p);
  } finally {
    await p.stop();
  }
}

/** Resident set size of a process in MiB (Linux /proc; null elsewhere). */
export function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}

export { BIN };
