/**
 * Runs batches on the main thread: the bench's comparison (`--inline`),
 * never a production mode. Loads the workers' runtime by URL, like the
 * worker file, so `src/` does not import `workers/` code. No thread can be
 * stopped here, so a deadline cannot be enforced.
 */
import { ErrorCode } from '../contract/errors.js';
import { RUNTIME_URL } from '../paths.js';
import type { CallResult, Outcome, PingReply, Progress } from '../contract/contract.js';
import { ThreadlessRunner, type CallsTask, type ResultSink } from './runner.js';

/** The part of the workers' runtime inline mode uses. */
interface Runtime {
  loadDispatch(url: string): Promise<unknown>;
  runCalls(mod: unknown, task: CallsTask, progress: Progress, post: ResultSink): Promise<CallResult | null>;
  runMaintain(mod: unknown, ctx: unknown, maxBytes: number): Promise<Outcome>;
  ping(mod: unknown): PingReply;
}

export class InlineRunner extends ThreadlessRunner {
  readonly ready: Promise<PingReply>;
  readonly #loaded: Promise<{ rt: Runtime; mod: unknown }>;
  readonly #sink: ResultSink;
  readonly #progress: Progress;

  constructor(dispatchUrl: string, sink: ResultSink, progress: Progress) {
    super();
    this.#sink = sink;
    this.#progress = progress;
    this.#loaded = (import(RUNTIME_URL.href) as Promise<Runtime>).then(async (rt) => ({ rt, mod: await rt.loadDispatch(dispatchUrl) }));
    this.ready = this.#loaded.then(({ rt, mod }) => rt.ping(mod));
  }

  async run(task: CallsTask): Promise<CallResult | null> {
    const { rt, mod } = await this.#loaded;
    return rt.runCalls(mod, task, this.#progress, this.#sink);
  }

  async maintain(ctx: unknown, maxResultBytes: number): Promise<Outcome> {
    try {
      const { rt, mod } = await this.#loaded;
      return await rt.runMaintain(mod, ctx, maxResultBytes);
    } catch (err) {
      return { ok: false, error: { code: ErrorCode.Internal, message: String(err) }, runMs: 0 };
    }
  }
}
