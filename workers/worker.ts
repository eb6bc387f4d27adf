/**
 * The piscina worker entry: starts importing the dispatch module as soon as
 * the thread starts (threads start in parallel), then runs each task through
 * the runtime. Results of calls go to the main thread over parentPort as
 * each call finishes. Pure: no sockets, no logging.
 *
 * A module that fails to load answers the ping with its error (the pool's
 * `ready` rejects with it) and fails every call with it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ErrorCode } from '../src/errors.js';
import type { CallResult, Flush, Outcome, PingReply, Progress, Task } from '../src/contract.js';
import { failingModule, loadDispatch, ping, runCalls, runMaintain, type LoadedModule } from './runtime.js';

const { dispatchUrl, progress } = workerData as { dispatchUrl: string; progress: Progress };

let loadError: unknown;
const loaded: Promise<LoadedModule> = loadDispatch(dispatchUrl).catch((err: unknown) => {
  loadError = err;
  return failingModule(err);
});

function post(r: CallResult | Flush): void {
  parentPort?.postMessage(r);
}

export default async function run(task: Task): Promise<Outcome | PingReply | CallResult | null> {
  const mod = await loaded;
  switch (task.op) {
    case 'ping':
      if (loadError !== undefined) {
        const message = loadError instanceof Error ? loadError.message : String(loadError);
        return { ok: false, error: { code: ErrorCode.Internal, message }, runMs: 0 };
      }
      return ping(mod);
    case 'maintain':
      return runMaintain(mod, task.ctx, task.maxResultBytes);
    case 'calls':
      return runCalls(mod, task, progress, post);
  }
}
