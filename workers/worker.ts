/**
 * The piscina worker entry: imports the dispatch module once per worker and
 * runs each task through the shared runtime. Early results of a batch go to
 * the main thread over parentPort. Pure: no sockets, no logging.
 */
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { loadDispatch, loadFailure, runCalls, runOther, type DispatchModule, type EarlyResults, type Outcome, type Task } from './runtime.js';

const { dispatchUrl, nice } = workerData as { dispatchUrl: string; nice: number };

// Slow-lane threads yield the CPU to the main thread and the fast lane.
// Linux lets a thread renice itself by its tid, and move itself to
// SCHED_IDLE (which any normal thread preempts at once on wake-up);
// elsewhere this is a no-op.
if (nice > 0) {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, nice);
    if (nice >= 19) spawnSync('chrt', ['--idle', '-p', '0', String(tid)], { stdio: 'ignore', timeout: 2000 });
  } catch {
    // not Linux, or not allowed: run at normal priority
  }
}
let loaded: Promise<DispatchModule> | undefined;

export default async function run(task: Task): Promise<Outcome | Outcome[]> {
  loaded ??= loadDispatch(dispatchUrl);
  let mod: DispatchModule;
  try {
    mod = await loaded;
  } catch (err) {
    const failure = loadFailure(err);
    return task.op === 'calls' ? task.calls.map(() => failure) : failure;
  }
  if (task.op !== 'calls') return runOther(mod, task);
  return runCalls(mod, task.calls, (from, results) => {
    parentPort?.postMessage({ batch: task.batch, from, results } satisfies EarlyResults);
  });
}
