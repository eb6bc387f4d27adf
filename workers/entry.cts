/**
 * piscina's entry for our threads: a CommonJS shim that import()s the real
 * entry (worker.ts). CommonJS on purpose: piscina loads its worker file with
 * require() first, and on Node ≥ 20.19 require() of an ES module instantiates
 * it synchronously — a thread terminated meanwhile (a stop during start, a
 * deadline kill, an idle thread retired while loading) then aborts the whole
 * process with a V8 fatal error (Module::IsGraphAsync). import() keeps the ES
 * module on the asynchronous loader, where termination is an ordinary error.
 */
import type { Task } from '../src/contract.js';

type Run = (task: Task) => Promise<unknown>;

// Started at once, so the dispatch module loads as soon as the thread starts.
const entry: Promise<Run> = import('./worker.js').then((m) => m.default);
// A load failure is reported by the first task; until then it must not count as unhandled.
entry.catch(() => {});

module.exports = async function run(task: Task): Promise<unknown> {
  return (await entry)(task);
};
