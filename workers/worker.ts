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

/** The module, or null if it failed to load or had not loaded within the load timeout (a module that hangs at import). */
const loaded: Promise<LoadedModule | null> = new Promise((resolve) => {
  const fail = (error: string): void => {
    if (loadError !== undefined) return;
    loadError = error;
    post({ thread: 'failed', id: threadId, error });
    resolve(null);
  };
  const timer =
    loadTimeoutMs > 0 ? setTimeout(() => fail(`the dispatch module did not load within ${loadTimeoutMs} ms (--dispatch-load-timeout-ms)`), loadTimeoutMs) : undefined;
  loadDispatch(dispatchUrl).then(
    (mod) => {
      clearTimeout(timer);
      if (loadError !== undefined) return;
      post({ thread: 'loaded', id: threadId });
      resolve(mod);
    },
    (err: unknown) => {
      clearTimeout(timer);
      fail(loadErrorMessage(err));
    },
  );
});

let pinged = false;

/**
 * piscina awaits a default export that is a promise before the thread says
 * it is ready: so a thread takes its first task only once its module has
 * loaded (or failed). Were the handler exported at once, piscina's idle loop
 * would block the event loop in Atomics.wait with the module's import still
 * pending, and a thread kept warm would load its module only when its first
 * call came — paying the module's import inside that call.
 */
export default loaded.then(() => run);

async function run(task: Task): Promise<Outcome | PingReply | CallResult | null> {
  // Idle, in JavaScript: exiting here is safe. The pool's task is rejected as the thread exits.
  if (task.op === 'retire') process.exit(0);
  const mod = await loaded;
  if (task.op === 'warm') {
    // A thread started ahead of a burst whose module failed is of no use: it goes, as on any task.
    if (mod === null) process.exit(0);
    return null;
  }
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
  // node:v8 only when asked for: importing it loads four more built-ins into every thread.
  if (recycleHeapMb > 0 && process.getBuiltinModule('node:v8').getHeapStatistics().used_heap_size > recycleHeapMb * 1024 * 1024) return 'heap';
  return null;
}
