/**
 * Runs batches on the main thread: the bench's comparison (`--inline`),
 * never a production mode. Loads the workers' runtime by URL, like the
 * worker file, so `src/` does not import `workers/` code. No thread can be
 * stopped here, so a deadline cannot be enforced.
 */
import { ErrorCode } from './errors.js';
import type { Outcome, PingReply } from './contract.js';
import type { CallsTask, ResultSink, Runner, RunnerStats } from './runner.js';

const RUNTIME_URL = new URL('../workers/runtime.js', import.meta.url);

/** The part of the workers' runtime inline mode uses. */
interface Runtime {
  loadDispatch(url: string): Promise<unknown>;
  runCalls(mod: unknown, task: CallsTask, post: ResultSink): Promise<void>;
  runMaintain(mod: unknown, ctx: unknown, maxBytes: number): Promise<Outcome>;
  ping(mod: unknown): PingReply;
}

export class InlineRunner implements Runner {
  readonly ready: Promise<PingReply>;
  readonly #loaded: Promise<{ rt: Runtime; mod: unknown }>;
  readonly #sink: ResultSink;

  constructor(dispatchUrl: string, sink: ResultSink) {
    this.#sink = sink;
    this.#loaded = (import(RUNTIME_URL.href) as Promise<Runtime>).then(async (rt) => ({ rt, mod: await rt.loadDispatch(dispatchUrl) }));
    this.ready = this.#loaded.then(({ rt, mod }) => rt.ping(mod));
  }

  async run(task: CallsTask): Promise<void> {
    const { rt, mod } = await this.#loaded;
    await rt.runCalls(mod, task, this.#sink);
  }

  async maintain(ctx: unknown, maxResultBytes: number): Promise<Outcome> {
    try {
      const { rt, mod } = await this.#loaded;
      return await rt.runMaintain(mod, ctx, maxResultBytes);
    } catch (err) {
      return { ok: false, error: { code: ErrorCode.Internal, message: String(err) }, runMs: 0 };
    }
  }

  stats(): RunnerStats {
    return { threads: 0, max_threads: 0 };
  }

  async destroy(): Promise<void> {}
}
