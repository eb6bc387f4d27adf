/**
 * The piscina worker entry: imports the dispatch module once per worker and
 * runs each task through the shared runtime. Pure: no sockets, no logging.
 */
import { workerData } from 'node:worker_threads';
import { execute, loadDispatch, loadFailure, type DispatchModule, type Outcome, type Task } from './runtime.js';

const { dispatchUrl } = workerData as { dispatchUrl: string };
let loaded: Promise<DispatchModule> | undefined;

export default async function run(task: Task): Promise<Outcome> {
  loaded ??= loadDispatch(dispatchUrl);
  let mod: DispatchModule;
  try {
    mod = await loaded;
  } catch (err) {
    return loadFailure(err);
  }
  return execute(mod, task);
}
