/**
 * The piscina worker entry: takes a native guard slot, imports the dispatch
 * module, then runs each task through the runtime. Results of calls go to
 * the main thread over parentPort as each call finishes. Pure: no sockets,
 * no logging.
 *
 * A module that fails to load (or has not loaded within the load timeout)
 * is a fact about this thread, not a verdict: the thread says so
 * (ThreadNews), answers a first ping with the error, and exits on any other
 * task before starting a call, so the pool runs those calls elsewhere; the
 * pool paces the retries. Exiting inside the task matters: piscina's idle
 * loop blocks the thread's event loop in Atomics.wait, so a timer set to
 * retire an idle thread would never fire. A thread also retires after a
 * task when the recycling options say so.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { ErrorCode } from '../src/contract/errors.js';
import type { CallResult, Flush, Outcome, PingReply, Task, ThreadData, ThreadNews } from '../src/contract/contract.js';
import { installGuard } from './guard.js';
import { loadDispatch, loadErrorMessage, ping, runCalls, runMaintain, setGuardSlot, type LoadedModule } from './runtime.js';

const { dispatchUrl, progress, recycleCalls, recycleHeapMb, loadTimeoutMs } = workerData as ThreadData;

setGuardSlot(installGuard(progress));

function post(r: CallResult | Flush | ThreadNews): void {
  parentPort?.postMessage(r);
}

let loadError: string | undefined;
let settled = false;
const loaded: Promise<LoadedModule | null> = loadDispatch(dispatchUrl).then(
  (mod) => {
    settled = true;
    post({ thread: 'loaded', id: threadId });
    return mod;
  },
  (err: unknown) => {
    settled = true;
    loadError = loadErrorMessage(err);
    post({ thread: 'failed', id: threadId, error: loadError });
    return null;
  },
);

/** The module, or null if it failed to load or has not loaded within the load timeout (a module that hangs at import). */
function loadedWithin(): Promise<LoadedModule | null> {
  if (settled || loadTimeoutMs <= 0) return loaded;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      loadError = `the dispatch module did not load within ${loadTimeoutMs} ms (--dispatch-load-timeout-ms)`;
      post({ thread: 'failed', id: threadId, error: loadError });
      resolve(null);
    }, loadTimeoutMs);
    void loaded.then((mod) => {
      clearTimeout(timer);
      resolve(mod);
    });
  });
}

let pinged = false;

export default async function run(task: Task): Promise<Outcome | PingReply | CallResult | null> {
  // Idle, in JavaScript: exiting here is safe. The pool's task is rejected as the thread exits.
  if (task.op === 'retire') process.exit(0);
  const mod = await loadedWithin();
  if (mod === null) {
    if (task.op === 'ping' && !pinged) {
      pinged = true;
      return { ok: false, error: { code: ErrorCode.Internal, message: loadError ?? 'dispatch module failed to load' }, runMs: 0 };
    }
    // No call of this task has started: the pool runs them on a thread that loaded, or tries a new one.
    process.exit(0);
  }
  switch (task.op) {
    case 'ping':
      return ping(mod);
    case 'maintain':
      return runMaintain(mod, task.ctx, task.maxResultBytes);
    case 'calls': {
      const last = await runCalls(mod, task, progress, post);
      callsRun += task.calls.length;
      const why = recycleDue();
      if (why === null) return last;
      // Recycling (--recycle-calls, --recycle-heap-mb), measured after a task, never by stopping a
      // call: the last result goes as a message (messages posted before exit arrive; the others are
      // in the arena), then the thread exits here, in JavaScript, before it can take another task.
      if (last !== null) post(last);
      post({ thread: 'recycled', id: threadId, why });
      process.exit(0);
    }
  }
}

let callsRun = 0;

function recycleDue(): 'calls' | 'heap' | null {
  if (recycleCalls > 0 && callsRun >= recycleCalls) return 'calls';
  if (recycleHeapMb > 0 && getHeapStatistics().used_heap_size > recycleHeapMb * 1024 * 1024) return 'heap';
  return null;
}
