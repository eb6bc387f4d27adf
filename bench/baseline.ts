/**
 * The original's shape as a server the bench starts: the asyncio
 * to_thread baseline (bench/asyncio_baseline.py), when python3 is there.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnLogged, stopper, tracked, type Proc } from './procs.js';

const BASELINE = fileURLToPath(new URL('../../bench/asyncio_baseline.py', import.meta.url));

/** Whether the asyncio baseline can run here. */
export function havePython(): boolean {
  return spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts the asyncio.to_thread baseline server (the original's shape) on a temp socket. */
export async function startBaseline(): Promise<Proc> {
  const dir = mkdtempSync('/tmp/ddb-');
  const socket = join(dir, 'baseline.sock');
  const child = spawnLogged('asyncio-baseline', 'python3', [BASELINE, socket], { stdout: 'pipe' });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('asyncio baseline did not start in 15 s')), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`asyncio baseline exited with ${code}`));
    });
  });
  return {
    socket,
    pid: child.pid as number,
    stop: tracked(stopper(child, dir, 5000)),
  };
}
