/**
 * Processes the bench starts: dispatchd itself (as a separate process, on a
 * temp socket, with the bench fixture) and the inline echo ceiling server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const BIN = fileURLToPath(new URL('../../bin/dispatchd.js', import.meta.url));
export const BENCH_FIXTURE = fileURLToPath(new URL('./fixture.js', import.meta.url));
const ECHO_SERVER = fileURLToPath(new URL('./echo-server.js', import.meta.url));
const PISCINA_SERVER = fileURLToPath(new URL('./piscina-server.js', import.meta.url));

export interface Proc {
  readonly socket: string;
  readonly pid: number;
  stop(): Promise<void>;
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
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before listening`);
    if (performance.now() > deadline) throw new Error(`nothing listening on ${path} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/** Starts dispatchd with the bench fixture (or `dispatch`; null: the built-in store) on a temp home. */
export async function startDispatchd(extra: string[] = [], dispatch: string | null = BENCH_FIXTURE): Promise<Proc> {
  const dir = mkdtempSync('/tmp/ddb-');
  const socket = join(dir, 'daemon.sock');
  const args = [BIN, 'serve', '--home', dir, ...(dispatch === null ? [] : ['--dispatch', dispatch]), '--log-level', 'warn', ...extra];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor(socket, child);
  return { socket, pid: child.pid as number, stop: stopper(child, dir) };
}

async function startScript(script: string): Promise<Proc> {
  const dir = mkdtempSync('/tmp/ddb-');
  const socket = join(dir, 'server.sock');
  const child = spawn(process.execPath, [script, socket], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(socket, child);
  return { socket, pid: child.pid as number, stop: stopper(child, dir) };
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
