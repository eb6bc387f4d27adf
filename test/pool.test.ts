/**
 * The pool's scheduling and fate rules, driven by a fake runner that plays
 * the worker's side of the progress record by hand (no threads).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, type PoolOptions } from '../src/pool/pool.js';
import { ErrorCode } from '../src/contract/errors.js';
import { RESULT_FIELDS, Slot, slotWord, type CallResult, type Outcome, type PingReply, type Progress } from '../src/contract/contract.js';
import { RunFailure, ThreadlessRunner, type CallsTask, type ResultSink } from '../src/pool/runner.js';
import type { Lane } from '../src/pool/lanes.js';

interface Sent {
  readonly task: CallsTask;
  readonly lane: Lane;
  readonly signal: AbortSignal;
  readonly ok: () => void;
  readonly fail: (e: RunFailure) => void;
  readonly methods: string[];
}

/** Plays the worker: start, finish, die — each step by hand. */
class FakeRunner extends ThreadlessRunner {
  readonly ready: Promise<PingReply>;
  readonly sent: Sent[] = [];
  readonly #sink: ResultSink;
  readonly #states: Int32Array;
  readonly #starts: Float64Array;
  readonly #progress: Progress;
  maintained = 0;

  constructor(sink: ResultSink, progress: Progress, lanes: PingReply['lanes'] | Error) {
    super();
    this.#sink = sink;
    this.#states = new Int32Array(progress.states);
    this.#starts = new Float64Array(progress.starts);
    this.#progress = progress;
    this.ready = lanes instanceof Error ? Promise.reject(lanes) : Promise.resolve({ lanes });
  }

  run(task: CallsTask, lane: Lane, signal: AbortSignal | undefined): Promise<CallResult | null> {
    return new Promise((ok, fail) => {
      const stop = signal ?? new AbortController().signal;
      this.sent.push({ task, lane, signal: stop, ok: () => ok(null), fail, methods: task.calls.map((c) => c.method) });
      stop.addEventListener('abort', () => fail(new RunFailure({ code: ErrorCode.DeadlineExceeded, message: 'aborted' })));
    });
  }

  async maintain(): Promise<Outcome> {
    this.maintained++;
    return { ok: true, json: 'null', runMs: 0 };
  }

  /** The worker starts call i (as if `agoMs` ago); false if it was taken back. */
  start(s: Sent, i: number, agoMs = 0): boolean {
    const k = s.task.base + i;
    const won = Atomics.compareExchange(this.#states, k, slotWord(s.task.gen, Slot.Queued), slotWord(s.task.gen, Slot.Running)) === slotWord(s.task.gen, Slot.Queued);
    if (won) this.#starts[k] = performance.timeOrigin + performance.now() - agoMs;
    return won;
  }

  /** The worker finishes call i and posts its result (unless it was stopped). */
  finish(s: Sent, i: number, json = '"ok"', runMs = 0.01, cpuMs?: number): boolean {
    const k = s.task.base + i;
    if (Atomics.compareExchange(this.#states, k, slotWord(s.task.gen, Slot.Running), slotWord(s.task.gen, Slot.Done)) !== slotWord(s.task.gen, Slot.Running)) return false;
    this.#sink({ batch: s.task.batch, index: i, outcome: { ok: true, json, runMs, ...(cpuMs === undefined ? {} : { cpuMs }) } });
    return true;
  }

  /** The worker finishes call i, leaves its result in the arena, posts nothing (and then dies, say). */
  finishInArena(s: Sent, i: number, json: string): boolean {
    const k = s.task.base + i;
    if (Atomics.compareExchange(this.#states, k, slotWord(s.task.gen, Slot.Running), slotWord(s.task.gen, Slot.Done)) !== slotWord(s.task.gen, Slot.Running)) return false;
    const at = s.task.arena[0] + 100 * i;
    const written = Buffer.from(this.#progress.arena).write(json, at, 'utf8');
    new Float64Array(this.#progress.results)[k * RESULT_FIELDS] = at;
    Atomics.store(new Int32Array(this.#progress.lengths), k, written);
    return true;
  }

  /** Tells the pool that results of `s` wait in the arena. */
  flush(s: Sent): void {
    this.#sink({ batch: s.task.batch, flush: true });
  }

  /** Marks call i Done without posting its result (a result still in transit). */
  doneSilently(s: Sent, i: number): void {
    Atomics.store(this.#states, s.task.base + i, slotWord(s.task.gen, Slot.Done));
  }

  /** Runs every call of a task to the end. */
  complete(s: Sent, runMs = 0.01, cpuMs?: number): void {
    for (let i = 0; i < s.task.calls.length; i++) if (this.start(s, i)) this.finish(s, i, JSON.stringify(s.task.calls[i]?.params), runMs, cpuMs);
    s.ok();
  }
}

const OPTS: PoolOptions = {
  threads: 4,
  fastThreads: 1,
  cpuThreads: 2,
  maxQueue: 100,
  maxBatch: 64,
  laneThresholdMs: 10,
  deadlineMs: 0,
  maxResultBytes: 1 << 20,
  maxMethods: 100,
  maxMethodTableBytes: 64 * 1024,
  quietThreads: 1,
  warmThreads: 2,
  retireEveryMs: 30_000,
  demandWindowMs: 300_000,
};

const LANES = { echo: 'fast', sleep: 'slow', spin: 'slow' } as const;

function make(opts: Partial<PoolOptions> = {}, lanes: PingReply['lanes'] | Error = LANES): { pool: Pool; fake: FakeRunner } {
  let fake: FakeRunner | undefined;
  const pool = new Pool({ ...OPTS, ...opts }, (sink, progress) => (fake = new FakeRunner(sink, progress, lanes)));
  return { pool, fake: fake as FakeRunner };
}

type Answer = { outcome: Outcome; waitMs: number };
function call(pool: Pool, method: string, params: unknown = {}): { answers: Answer[]; cancel: () => boolean } {
  const answers: Answer[] = [];
  const t = pool.submit(method, JSON.stringify(params), (outcome, waitMs) => answers.push({ outcome, waitMs }));
  return { answers, cancel: () => t.cancel() };
}

// The pool pumps once per turn of the event loop (setImmediate): a tick waits for a timer, then for the immediates queued before it.
const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(() => setImmediate(r), ms));
const codeOf = (a: Answer | undefined): number | undefined => (a && !a.outcome.ok ? a.outcome.error.code : undefined);

describe('pool: lanes and batching', () => {
  test('calls submitted before the module loads wait for it, then fast ones travel as one batch', async () => {
    const { pool, fake } = make();
    const calls = Array.from({ length: 10 }, (_, i) => call(pool, 'echo', { i }));
    await pool.ready;
    await tick();
    assert.equal(fake.sent.length, 1);
    assert.equal(fake.sent[0]?.lane, 'fast');
    assert.equal(fake.sent[0]?.task.calls.length, 10);
    fake.complete(fake.sent[0] as Sent);
    await tick();
    assert.deepEqual(calls.map((c) => c.answers.length), Array(10).fill(1));
    await pool.destroy();
  });

  test('done is never called before submit returns', async () => {
    const { pool } = make({ maxQueue: 1 });
    await pool.ready;
    call(pool, 'sleep', { ms: 1 });
    let returned = false;
    let early = false;
    pool.submit('sleep', '{}', () => (early = !returned));
    returned = true;
    await tick();
    assert.equal(early, false);
    await pool.destroy();
  });

  test('a full queue answers -32003 at once with a retry hint', async () => {
    const { pool } = make({ maxQueue: 2, threads: 1, fastThreads: 0 });
    await pool.ready;
    const a = [call(pool, 'sleep'), call(pool, 'sleep'), call(pool, 'sleep')];
    await tick();
    assert.equal(codeOf(a[2]?.answers[0]), ErrorCode.Overloaded);
    assert.equal(pool.stats().rejected, 1);
    await pool.destroy();
  });

  test('a cancelled call is never sent', async () => {
    const { pool, fake } = make({ threads: 1, fastThreads: 0 });
    await pool.ready;
    call(pool, 'sleep');
    const b = call(pool, 'sleep');
    await tick();
    assert.equal(b.cancel(), true);
    fake.complete(fake.sent[0] as Sent);
    await tick();
    assert.equal(fake.sent.length, 1, 'the cancelled call never reached a thread');
    assert.equal(b.answers.length, 0);
    assert.equal(pool.queued, 0);
    await pool.destroy();
  });
});

describe('pool: capacity', () => {
  test('calls that wait run side by side on every slow thread; CPU-bound ones share the CPU slots', async () => {
    const { pool, fake } = make({ threads: 6, cpuThreads: 2 });
    await pool.ready;
    // Teach the pool: sleep waits (cpu share ~0), spin burns (share 1).
    call(pool, 'sleep');
    call(pool, 'spin');
    await tick();
    fake.complete(fake.sent[0] as Sent, 50, 0.5);
    fake.complete(fake.sent[1] as Sent, 50, 50);
    await tick();
    assert.equal(pool.kindOf('sleep'), 'wait');
    assert.equal(pool.kindOf('spin'), 'cpu');
    const before = fake.sent.length;
    for (let i = 0; i < 5; i++) call(pool, 'spin');
    for (let i = 0; i < 8; i++) call(pool, 'sleep');
    await tick();
    const started = fake.sent.slice(before);
    const spins = started.filter((s) => s.methods[0] === 'spin').length;
    const sleeps = started.filter((s) => s.methods[0] === 'sleep').length;
    assert.equal(spins, 2, 'CPU-bound calls: cpuThreads at once');
    assert.equal(spins + sleeps, 6, 'slow calls: every slow thread, no more');
    assert.ok(started.every((s) => s.task.calls.length === 1 && s.lane === 'slow'));
    assert.equal(pool.stats().queue_size, 7);
    await pool.destroy();
  });

  test('the fast reserve stays free for fast calls while slow ones fill every slow thread', async () => {
    const { pool, fake } = make({ threads: 2, fastThreads: 1 });
    await pool.ready;
    for (let i = 0; i < 5; i++) call(pool, 'sleep');
    await tick();
    assert.equal(fake.sent.length, 2);
    const e = call(pool, 'echo');
    await tick();
    assert.equal(fake.sent.length, 3);
    fake.complete(fake.sent[2] as Sent);
    await tick();
    assert.equal(e.answers.length, 1);
    await pool.destroy();
  });

  test('maintenance runs only when a thread can be spared', async () => {
    const { pool, fake } = make({ threads: 1, fastThreads: 1 });
    await pool.ready;
    call(pool, 'sleep');
    await tick();
    assert.equal(await pool.maintain({}), null, 'the only slow thread is busy');
    fake.complete(fake.sent[0] as Sent);
    await tick();
    assert.notEqual(await pool.maintain({}), null);
    assert.equal(fake.maintained, 1);
    await pool.destroy();
  });
});

describe('pool: a method seen for the first time', () => {
  test('its first burst waits for one probe call, then travels in batches', async () => {
    const { pool, fake } = make();
    await pool.ready;
    const calls = Array.from({ length: 50 }, (_, i) => call(pool, 'fresh', { i }));
    await tick();
    assert.equal(fake.sent.length, 1, 'one probe');
    assert.equal(fake.sent[0]?.task.calls.length, 1);
    assert.equal(pool.stats().held_new, 49);
    fake.complete(fake.sent[0] as Sent, 0.05);
    await tick();
    assert.equal(pool.kindOf('fresh'), 'fast');
    assert.equal(fake.sent.length, 2);
    assert.equal(fake.sent[1]?.task.calls.length, 49, 'the rest in one batch');
    fake.complete(fake.sent[1] as Sent);
    await tick();
    assert.ok(calls.every((c) => c.answers.length === 1));
    await pool.destroy();
  });

  test('a probe that takes longer than the lane threshold releases the rest as slow calls', async () => {
    const { pool, fake } = make({ laneThresholdMs: 50, threads: 8 });
    await pool.ready;
    for (let i = 0; i < 4; i++) call(pool, 'slowpoke');
    await tick();
    assert.equal(fake.sent.length, 1);
    await tick(150);
    assert.equal(fake.sent.length, 1, 'a probe not yet running says nothing: the rest keep waiting');
    fake.start(fake.sent[0] as Sent, 0);
    await tick(150);
    assert.equal(fake.sent.length, 4, 'released once the probe has run past the threshold, one call per thread');
    assert.ok(fake.sent.every((s) => s.lane === 'slow' && s.task.calls.length === 1));
    await pool.destroy();
  });
});

describe('pool: every call its own fate', () => {
  test('a thread lost mid-batch: finished calls keep results, the running one fails, the rest run elsewhere once', async () => {
    const { pool, fake } = make();
    await pool.ready;
    const calls = ['a', 'b', 'c', 'd'].map((tag) => call(pool, 'echo', { tag }));
    await tick();
    const s = fake.sent[0] as Sent;
    assert.ok(fake.start(s, 0) && fake.finish(s, 0, '"a"'));
    assert.ok(fake.start(s, 1));
    s.fail(new RunFailure({ code: ErrorCode.Internal, message: 'worker exited' }));
    await tick();
    assert.equal(calls[0]?.answers[0]?.outcome.ok, true);
    assert.equal(codeOf(calls[1]?.answers[0]), ErrorCode.Internal);
    assert.equal(fake.sent.length, 2, 'the two not started were sent again');
    assert.deepEqual(fake.sent[1]?.task.calls.map((c) => JSON.parse(c.params).tag), ['c', 'd']);
    // The lost thread can never start them: they were taken back.
    assert.equal(fake.start(s, 2), false);
    fake.complete(fake.sent[1] as Sent);
    await tick();
    assert.deepEqual(calls.map((c) => c.answers.length), [1, 1, 1, 1]);
    assert.equal(pool.stats().requeued, 2);
    await pool.destroy();
  });

  test('a thread stopped late can never start a call of the batch that reuses its slots', async () => {
    const { pool, fake } = make({ threads: 1, fastThreads: 0 });
    await pool.ready;
    call(pool, 'echo', { n: 1 });
    call(pool, 'echo', { n: 2 });
    await tick();
    const first = fake.sent[0] as Sent;
    first.fail(new RunFailure({ code: ErrorCode.Internal, message: 'worker exited' }));
    await tick();
    const second = fake.sent[1] as Sent;
    assert.equal(second.task.base, first.task.base, 'the same slots, reused');
    assert.notEqual(second.task.gen, first.task.gen);
    assert.equal(fake.start(first, 0), false, 'the old generation loses');
    assert.equal(fake.start(second, 0), true);
    await pool.destroy();
  });

  test('a batch waiting for a trailing result never takes the results of the batch that reuses its slots', async () => {
    const { pool, fake } = make({ threads: 1, fastThreads: 0 });
    await pool.ready;
    const a = call(pool, 'echo', { n: 'a' });
    const b = call(pool, 'echo', { n: 'b' });
    await tick();
    const first = fake.sent[0] as Sent;
    fake.start(first, 0);
    fake.doneSilently(first, 0); // a's result is still on its way as a message
    first.fail(new RunFailure({ code: ErrorCode.Internal, message: 'worker exited' }));
    await tick();
    const second = fake.sent[1] as Sent;
    assert.equal(second.task.base, first.task.base);
    fake.start(second, 0);
    fake.finishInArena(second, 0, '"for b"');
    fake.flush(first);
    fake.flush(second);
    await tick();
    assert.equal(a.answers.length, 0, "a waits for its own result, not b's");
    assert.deepEqual(b.answers[0]?.outcome, { ok: true, json: '"for b"', runMs: 0 });
    await pool.destroy();
  });

  test('results left in the arena by a thread that died are delivered', async () => {
    const { pool, fake } = make();
    await pool.ready;
    const calls = ['a', 'b', 'c'].map((tag) => call(pool, 'echo', { tag }));
    await tick();
    const s = fake.sent[0] as Sent;
    for (const i of [0, 1]) {
      fake.start(s, i);
      fake.finishInArena(s, i, JSON.stringify({ tag: 'abc'[i] }));
    }
    fake.start(s, 2);
    s.fail(new RunFailure({ code: ErrorCode.Internal, message: 'worker exited' }));
    await tick();
    assert.deepEqual(calls.slice(0, 2).map((c) => c.answers[0]?.outcome), [
      { ok: true, json: '{"tag":"a"}', runMs: 0 },
      { ok: true, json: '{"tag":"b"}', runMs: 0 },
    ]);
    assert.equal(codeOf(calls[2]?.answers[0]), ErrorCode.Internal);
    await pool.destroy();
  });

  test('a result that trails its task is still delivered', async () => {
    const { pool, fake } = make();
    await pool.ready;
    const a = call(pool, 'echo');
    await tick();
    const s = fake.sent[0] as Sent;
    fake.start(s, 0);
    // Done in the record, task over, message not yet processed: the pool waits for it.
    fake.doneSilently(s, 0);
    s.fail(new RunFailure({ code: ErrorCode.Internal, message: 'worker exited' }));
    await tick();
    assert.equal(a.answers.length, 0);
    await pool.destroy();
  });
});

describe('pool: deadlines per call', () => {
  test('only the call that overran gets -32004; its batch mates not started run elsewhere', async () => {
    const { pool, fake } = make({ deadlineMs: 50 });
    await pool.ready;
    const calls = ['a', 'b', 'c'].map((tag) => call(pool, 'echo', { tag }));
    await tick();
    const s = fake.sent[0] as Sent;
    fake.start(s, 0);
    fake.finish(s, 0);
    fake.start(s, 1, 60); // started 60 ms ago
    await tick(40);
    assert.equal(codeOf(calls[1]?.answers[0]), ErrorCode.DeadlineExceeded);
    assert.equal(calls[0]?.answers[0]?.outcome.ok, true);
    assert.ok(s.signal.aborted, 'the overrunning thread is stopped');
    assert.equal(fake.finish(s, 1), false, 'a result after the kill is dropped');
    assert.deepEqual(fake.sent[1]?.task.calls.map((c) => JSON.parse(c.params).tag), ['c']);
    assert.equal(pool.stats().deadline_kills, 1);
    await pool.destroy();
  });

  test('the deadline counts from the start of the call, not of its batch or its wait', async () => {
    const { pool, fake } = make({ deadlineMs: 200, laneThresholdMs: 10_000 });
    await pool.ready;
    const calls = Array.from({ length: 8 }, () => call(pool, 'echo'));
    await tick();
    const s = fake.sent[0] as Sent;
    for (let i = 0; i < 8; i++) {
      fake.start(s, i);
      await tick(40); // each call takes 40 ms: the batch takes 320
      fake.finish(s, i);
    }
    s.ok();
    await tick();
    assert.ok(calls.every((c) => c.answers[0]?.outcome.ok === true));
    await pool.destroy();
  });

  test('a call that finished first is never -32004', async () => {
    const { pool, fake } = make({ deadlineMs: 20 });
    await pool.ready;
    const a = call(pool, 'echo');
    await tick();
    const s = fake.sent[0] as Sent;
    fake.start(s, 0, 100);
    fake.finish(s, 0); // finished, the deadline check has not run yet
    await tick(30);
    assert.equal(a.answers.length, 1);
    assert.equal(a.answers[0]?.outcome.ok, true);
    await pool.destroy();
  });
});

describe('pool: a batch behind a call that turned slow', () => {
  test('gives its calls not yet started back to the queue', async () => {
    const { pool, fake } = make({ laneThresholdMs: 10, fastThreads: 1 });
    await pool.ready;
    const calls = ['a', 'b', 'c'].map((tag) => call(pool, 'echo', { tag }));
    await tick();
    const s = fake.sent[0] as Sent;
    fake.start(s, 0, 30);
    await tick(40);
    assert.equal(fake.sent.length, 2);
    assert.deepEqual(fake.sent[1]?.task.calls.map((c) => JSON.parse(c.params).tag), ['b', 'c']);
    fake.complete(fake.sent[1] as Sent);
    fake.finish(s, 0);
    s.ok();
    await tick();
    assert.ok(calls.every((c) => c.answers.length === 1));
    await pool.destroy();
  });
});

describe('pool: lifecycle', () => {
  test('a module that fails to load: ready rejects and waiting calls fail with -32001', async () => {
    const { pool } = make({}, new Error('boom at import'));
    const a = call(pool, 'echo');
    await assert.rejects(pool.ready, /boom at import/);
    await tick();
    assert.equal(codeOf(a.answers[0]), ErrorCode.Internal);
    const b = call(pool, 'echo');
    await tick();
    assert.equal(codeOf(b.answers[0]), ErrorCode.Internal);
    await pool.destroy();
  });

  test('destroy fails what is queued; close and destroy are idempotent', async () => {
    const { pool } = make({ threads: 1, fastThreads: 0 });
    await pool.ready;
    call(pool, 'sleep');
    const b = call(pool, 'sleep');
    await tick();
    await pool.destroy();
    await pool.destroy();
    await pool.close();
    assert.equal(codeOf(b.answers[0]), ErrorCode.Internal);
  });

  test('status stays small whatever method names clients invent', async () => {
    const { pool, fake } = make({ maxMethods: 1000, maxMethodTableBytes: 256 * 1024 });
    await pool.ready;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 100; i++) call(pool, `m${round}-${i}-${'x'.repeat(200)}`);
      await tick();
      for (const s of fake.sent.splice(0)) fake.complete(s);
      await tick(15);
      for (const s of fake.sent.splice(0)) fake.complete(s);
      await tick();
    }
    const size = JSON.stringify(pool.stats()).length;
    assert.ok(size < 64 * 1024, `stats ${size} bytes`);
    const known = pool.stats().lanes.methods_known;
    assert.ok(known * 400 <= 256 * 1024 + 400, `${known} methods kept`);
    await pool.destroy();
  });
});
