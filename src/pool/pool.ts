/**
 * The pool: bounded queues of calls in front of a runner (what runs a batch:
 * piscina threads, or the main thread for the bench). It decides what runs
 * where and when (docs/pool.md):
 *
 * - Call kinds (`lanes.ts`, learned in `method-table.ts`): fast calls travel
 *   in batches; slow CPU-bound calls share `cpuThreads` slots; slow calls that
 *   mostly wait may use every one of the `threads` slow threads;
 *   `fastThreads` more are kept for fast calls.
 *   The first burst of a method never seen waits (briefly) for one probe call.
 * - Fate per call (SPEC §6), through each batch's shared progress record:
 *   a finished call keeps its result whatever happens to its thread next;
 *   a call not yet started is taken back and runs elsewhere, never twice;
 *   only the call that was running when its thread died fails.
 * - Deadlines per call, from the moment it starts: only the overrunning
 *   call's thread is stopped. A fast batch stuck behind a call that turned
 *   slow gives its not-started calls back to the queue.
 *
 * Usable as soon as it is constructed: calls submitted before the dispatch
 * module has loaded wait for it; `ready` says when it has (or why not).
 *
 * Why one file past ~300 lines: the queues, the slot counts and the batches
 * in flight are one invariant (a call is queued, running in exactly one
 * batch, or answered; each slot count matches the batches holding it), and
 * every method left here changes it. What stands apart has left: options,
 * outcomes, progress (the shared record), demand (warm-thread retirement),
 * watchdog (deadlines), reload, load-health, queues, batch, runners.
 */
import { performance } from 'node:perf_hooks';
import { boundData, ErrorCode } from '../contract/errors.js';
import { Slot, type CallResult, type Flush, type Outcome, type PingReply, type Progress, type ThreadNews } from '../contract/contract.js';
import { Guards } from './guards.js';
import { LoadHealth } from './load-health.js';
import { NATIVE_GRACE_MS, Runners } from './runners.js';
import { Batch, type Done, type Job, type ProgressViews, type Ticket } from './batch.js';
import { Demand } from './demand.js';
import type { Fifo } from './fifo.js';
import { Queues } from './queues.js';
import type { CallKind, RunKind } from './lanes.js';
import { MethodTable } from './method-table.js';
import type { PoolOptions, ReloadReport } from './options.js';
import { failure, LOAD_FAILED, STOPPED } from './outcomes.js';
import { PoolCounters, type PoolStats } from './pool-stats.js';
import { ARENA_BYTES, createProgress, viewsOf } from './progress.js';
import { loaded, Reloads } from './reload.js';
import type { Runner, RunnerFactory, RunFailure } from './runner.js';
import { Watchdog } from './watchdog.js';

export type { Ticket, Done } from './batch.js';
export type { PoolOptions, ReloadReport } from './options.js';
export type { PoolStats } from './pool-stats.js';

/** A Done call's result message may trail its task's end (another port); this long at most. */
const RESULT_GRACE_MS = 2000;
/** Calls fail with the module's load error only once loading has failed in every thread this long. */
const LOAD_VERDICT_MS = 5000;

export class Pool {
  /** Resolves when the dispatch module has loaded in a worker; rejects with its load error. */
  readonly ready: Promise<void>;
  readonly #opts: PoolOptions;
  readonly #runners: Runners;
  readonly #makeRunner: RunnerFactory;
  readonly #progress: Progress;
  #table: MethodTable;
  #loaded = false;
  #loadError: string | undefined;
  #stopped = false;
  readonly #queues = new Queues();
  readonly #batches = new Map<number, Batch>();
  /** The progress record shared with the threads: one region of maxBatch slots per thread. */
  readonly #views: ProgressViews;
  /** Regions not held by a running task. */
  readonly #freeRegions: number[];
  #batchSeq = 0;
  #fastUsed = 0;
  /** Fast batches on the reserve threads (the others spilled onto slow threads). */
  #onReserve = 0;
  #cpuUsed = 0;
  #waitUsed = 0;
  #running = 0;
  #pumpScheduled = false;
  readonly #watchdog: Watchdog;
  readonly #counters = new PoolCounters();
  #idle: (() => void)[] = [];
  readonly #guards: Guards;
  #loads = new LoadHealth(LOAD_VERDICT_MS);
  readonly #reloads = new Reloads();
  readonly #recycled = { calls: 0, heap: 0 };
  /** Thread news other than recycled, counted (threadChanges). */
  #threadChanges = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #demand: Demand;
  /** A call came after a quiet spell: ready the warm threads after this turn's pump. */
  #warmWanted = false;
  readonly #retire: NodeJS.Timeout;
  /** Settles once no thread is inside native code after a stop began. */
  #safeToStop: Promise<void> = Promise.resolve();

  constructor(opts: PoolOptions, makeRunner: RunnerFactory) {
    this.#opts = opts;
    this.#table = this.#newTable({});
    const regions = opts.threads + opts.fastThreads;
    const progress = createProgress(regions, opts.maxBatch);
    this.#guards = new Guards(progress);
    this.#demand = new Demand(opts);
    this.#watchdog = new Watchdog(opts, {
      batches: () => this.#batches.values(),
      readArena: (batch) => this.#readArena(batch),
      kill: (batch, i) => this.#kill(batch, i),
      requeue: (batch, jobs) => this.#requeue(batch, jobs),
      // Fast calls that have waited past the threshold may now spill onto idle slow threads.
      checked: () => {
        if (this.#queues.fast.live > 0) this.#pump();
      },
    });
    this.#retire = setInterval(() => this.#retireBeyondDemand(), opts.retireEveryMs);
    this.#retire.unref();
    this.#views = viewsOf(progress);
    this.#freeRegions = Array.from({ length: regions }, (_, r) => regions - 1 - r);
    this.#makeRunner = makeRunner;
    this.#progress = progress;
    const first = makeRunner(this.#sinkFor(this.#loads), progress);
    this.#runners = new Runners(first, this.#guards);
    this.ready = first.ready.then(
      (reply) => {
        this.#table = this.#newTable(reply.lanes);
        this.#loaded = true;
        for (let job = this.#queues.early.shift(); job !== undefined; job = this.#queues.early.shift()) this.#route(job);
        this.#schedulePump();
      },
      (err: unknown) => {
        this.#loadError = `dispatch module failed to load: ${err instanceof Error ? err.message : String(err)}`;
        for (let job = this.#queues.early.shift(); job !== undefined; job = this.#queues.early.shift()) this.#finish(job, failure(ErrorCode.Internal, this.#loadError, LOAD_FAILED), false);
        throw err;
      },
    );
    // Whoever awaits `ready` sees the error; an unobserved one must not crash the process.
    this.ready.catch(() => {});
  }

  #newTable(declared: PingReply['lanes']): MethodTable {
    return new MethodTable({ declared, thresholdMs: this.#opts.laneThresholdMs, maxMethods: this.#opts.maxMethods, maxBytes: this.#opts.maxMethodTableBytes });
  }

  /**
   * Queues a call; `params` is the JSON text of its params. `done` is called
   * exactly once, never before `submit` returns, unless the ticket is
   * cancelled first.
   */
  submit(method: string, params: string, done: Done): Ticket {
    const job: Job = {
      method,
      params,
      done,
      enqueuedAt: performance.now(),
      state: 'queued',
      kind: 'new',
      probe: false,
      waitMs: 0,
      batch: undefined,
      index: 0,
      cancel: () => this.#queues.cancel(job, this.#loaded),
    };
    const refuse = this.#stopped
      ? failure(ErrorCode.Internal, 'pool is stopped', STOPPED)
      : this.#loadError !== undefined
        ? failure(ErrorCode.Internal, this.#loadError, LOAD_FAILED)
        : this.queued >= this.#opts.maxQueue
          ? failure(ErrorCode.Overloaded, 'server overloaded: pool queue is full, retry later', { ...boundData('max_queue', this.#opts.maxQueue), retry_after_ms: 100 })
          : null;
    if (refuse !== null) {
      if (refuse.ok === false && refuse.error.code === ErrorCode.Overloaded) this.#counters.rejected++;
      job.state = 'finished';
      // Never re-entrant: callers get `done` after `submit` has returned.
      queueMicrotask(() => done(refuse, 0));
      return job;
    }
    // A call after a quiet spell readies the warm threads for the burst it may lead (demand.ts),
    // once the calls of this turn have gone to the threads there are.
    if (this.#demand.expect()) this.#warmWanted = true;
    if (this.#loaded) this.#route(job);
    else this.#queues.early.push(job);
    this.#schedulePump();
    return job;
  }

  /** Puts a call in the queue of its kind; the first burst of a new method waits for one probe. */
  #route(job: Job): void {
    const probe = this.#queues.add(job, this.#table.kindOf(job.method));
    if (probe !== null) this.#holdCheck(probe);
  }

  /**
   * A probe that has RUN longer than the lane threshold says its method is
   * slow: the held calls need not wait for it to end. Time spent waiting
   * for a thread or in transit says nothing, so it is not counted.
   */
  #holdCheck(probe: Job): void {
    setTimeout(() => {
      if (probe.state === 'finished' || probe.state === 'cancelled' || this.#stopped) return this.#release(probe.method);
      const batch = probe.batch;
      const started = batch !== undefined && batch.state(probe.index) === Slot.Running ? batch.startedAtMs(probe.index) : 0;
      const ran = started > 0 ? performance.timeOrigin + performance.now() - started : 0;
      if (ran >= this.#opts.laneThresholdMs) this.#release(probe.method);
      else this.#holdCheck(probe);
    }, Math.max(1, this.#opts.laneThresholdMs / 2)).unref();
  }

  /** Ends the hold of a new method's first burst: its calls go to the queue its verdict (or lack of one) says. */
  #release(method: string): void {
    const kind = this.#table.kindOf(method);
    this.#queues.release(method, kind === 'new' ? 'wait' : kind);
    this.#schedulePump();
  }

  #schedulePump(): void {
    // Once per turn of the event loop (after its I/O), so calls that arrive together travel
    // together. A microtask would run after each socket's callback: with 16 connections of one
    // call each, the first call of a turn went alone and the rest waited for it (docs/pool.md).
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
      if (this.#warmWanted && !this.#stopped) {
        this.#warmWanted = false;
        this.#runners.current.warm(this.#demand.keptWarm);
      }
    });
  }

  get #total(): number {
    return this.#fastUsed + this.#cpuUsed + this.#waitUsed;
  }

  #pump(): void {
    if (!this.#loaded || this.#stopped) return;
    const { threads, fastThreads, cpuThreads, maxBatch } = this.#opts;
    // While loads fail, no more tasks than threads that loaded (plus a retry now and then).
    const cap = this.#loads.cap(performance.now());
    if (this.#total >= cap) return this.#retryLater();
    for (;;) {
      if (this.#total >= cap) break;
      // Slow threads in use: slow calls and fast batches that spilled onto them.
      const slowBusy = this.#slowBusy;
      const fastLive = this.#queues.fast.live;
      // Fast calls run on the reserve, and spill onto idle slow threads only
      // when there is no reserve, a full batch waits, or the oldest has
      // waited past the lane threshold; never more fast batches than CPU
      // slots (they are CPU work).
      const reserveFree = fastThreads - this.#onReserve;
      const fastCap = Math.max(fastThreads, cpuThreads);
      const spill = fastThreads === 0 || fastLive >= maxBatch || this.#fastWaitedMs() >= this.#opts.laneThresholdMs;
      if (fastLive > 0 && this.#fastUsed < fastCap && (reserveFree > 0 || (spill && slowBusy < threads))) {
        const slots = Math.max(1, reserveFree > 0 ? reserveFree : Math.min(threads - slowBusy, fastCap - this.#fastUsed));
        this.#start(this.#take(this.#queues.fast, Math.min(maxBatch, Math.ceil(fastLive / slots))), 'fast', reserveFree > 0);
        continue;
      }
      if (slowBusy >= threads) break;
      const cpuOk = this.#cpuUsed < Math.min(cpuThreads, threads);
      const cpuHead = cpuOk ? this.#queues.cpu.peek() : undefined;
      const waitHead = this.#queues.wait.peek();
      // Slow calls of both kinds keep their arrival order where both may start.
      const next = cpuHead === undefined ? waitHead : waitHead === undefined || cpuHead.enqueuedAt <= waitHead.enqueuedAt ? cpuHead : waitHead;
      if (next === undefined) break;
      this.#start(this.#take(next.kind === 'cpu' ? this.#queues.cpu : this.#queues.wait, 1), next.kind === 'cpu' ? 'cpu' : 'wait', false);
    }
  }

  /** How long the oldest fast call has waited (ms). */
  #fastWaitedMs(): number {
    const head = this.#queues.fast.peek();
    return head === undefined ? 0 : performance.now() - head.enqueuedAt;
  }

  #take(q: Fifo<Job>, n: number): Job[] {
    const jobs: Job[] = [];
    for (let i = 0; i < n; i++) {
      const job = q.shift();
      if (job === undefined) break;
      jobs.push(job);
    }
    return jobs;
  }

  /** Starts a batch; `onReserve`: a fast batch on the reserve threads (else on slow threads). */
  #start(jobs: Job[], slot: RunKind, onReserve: boolean): void {
    if (jobs.length === 0) return;
    // A task per thread at most, so a region is always free here.
    const region = this.#freeRegions.pop() as number;
    const batch = new Batch({
      id: ++this.#batchSeq,
      jobs,
      lane: onReserve ? 'fast' : 'slow',
      slot,
      stoppable: this.#opts.deadlineMs > 0,
      views: this.#views,
      base: region * this.#opts.maxBatch,
    });
    this.#guards.assign(region);
    if (onReserve) this.#onReserve++;
    const now = batch.startedAt;
    jobs.forEach((job, i) => {
      job.state = 'running';
      job.batch = batch;
      job.index = i;
      job.waitMs = now - job.enqueuedAt;
      this.#counters.wait.record(job.waitMs);
    });
    this.#batches.set(batch.id, batch);
    this.#used(slot, +1);
    this.#running += jobs.length;
    this.#counters.batch(jobs.length);
    const calls = jobs.map((j) => ({ method: j.method, params: j.params, measure: slot !== 'fast' && this.#table.measure(j.method) }));
    const task = { op: 'calls', batch: batch.id, calls, base: batch.base, region, gen: batch.gen, arena: [region * ARENA_BYTES, (region + 1) * ARENA_BYTES], maxResultBytes: this.#opts.maxResultBytes } as const;
    this.#runners
      .track((runner) => runner.run(task, batch.lane, batch.abort?.signal))
      .then(
        (last) => {
          this.#readArena(batch);
          if (last !== null) this.#onResult(last);
          this.#settle(batch, null);
        },
        // A thread whose module failed to load exits on the task it was given, before starting any call.
        (err: RunFailure) => (this.#loads.failing && this.#untouched(batch) ? this.#notLoaded(batch) : this.#settle(batch, err)),
      );
    if (this.#opts.deadlineMs > 0 || slot === 'fast') this.#watchdog.start();
  }

  #used(slot: RunKind, d: number): void {
    if (slot === 'fast') this.#fastUsed += d;
    else if (slot === 'cpu') this.#cpuUsed += d;
    else this.#waitUsed += d;
    this.#demand.note(this.#slowBusy);
  }

  /** Slow threads in use: slow calls, maintenance, and fast batches that spilled onto them. */
  get #slowBusy(): number {
    return this.#cpuUsed + this.#waitUsed + this.#fastUsed - this.#onReserve;
  }

  /** Once per retire period: an idle thread beyond recent demand retires (demand.ts). */
  #retireBeyondDemand(): void {
    const keep = this.#demand.roll(this.#slowBusy);
    if (this.#stopped || !this.#loaded) return;
    this.#runners.current.retireIdle(keep);
    // Threads lost meanwhile (a deadline kill, a recycle, a reload's new runner) are started again.
    this.#runners.current.warm(keep);
  }

  /**
   * Where one runner's threads report: each runner has its own load health
   * (a reload's new threads must not count for the old ones, nor a failed
   * reload's for the threads that serve).
   */
  #sinkFor(health: LoadHealth): (r: CallResult | Flush | ThreadNews) => void {
    return (r) => this.#onResult(r, health);
  }

  #onResult(r: CallResult | Flush | ThreadNews, health: LoadHealth = this.#loads): void {
    if ('thread' in r) {
      // A thread says loaded or failed once its module is in (not if stopped before), and gone once; a recycled one also says gone.
      if (r.thread !== 'recycled') this.#threadChanges++;
      if (r.thread === 'recycled') {
        this.#recycled[r.why ?? 'calls']++;
        return;
      }
      health.onNews(r, performance.now());
      if (r.thread === 'gone') {
        // Threads that are gone give their guard slots back (slots are few; threads come and go for weeks).
        const live = new Set(this.#runners.threadIds());
        this.#guards.keepOnly(live);
        this.#loads.keepOnly(live);
      }
      if (r.thread === 'loaded') this.#schedulePump();
      return;
    }
    if ('flush' in r) {
      const batch = this.#batches.get(r.batch);
      if (batch !== undefined) this.#readArena(batch);
      return;
    }
    const batch = this.#batches.get(r.batch);
    const job = batch?.jobs[r.index];
    if (batch === undefined || job === undefined || job.batch !== batch || job.state !== 'running') return;
    this.#answer(batch, job, r.outcome, true);
  }

  /** Answers the calls of `batch` whose results wait in the arena (while it holds its slots). */
  #readArena(batch: Batch): void {
    if (batch.settled) return; // its slots and arena may belong to a later batch now
    for (let i = 0; i < batch.jobs.length; i++) {
      const job = batch.jobs[i] as Job;
      if (job.batch !== batch || job.state !== 'running') continue;
      const outcome = batch.arenaResult(i);
      if (outcome !== undefined) this.#answer(batch, job, outcome, true);
    }
  }

  /** A call of `batch` is answered. */
  #answer(batch: Batch, job: Job, outcome: Outcome, learn: boolean): void {
    batch.open--;
    if (batch.settled && batch.open === 0) this.#batches.delete(batch.id);
    this.#finish(job, outcome, learn);
  }

  #finish(job: Job, outcome: Outcome, learn: boolean): void {
    if (job.state === 'running') this.#running--;
    job.state = 'finished';
    job.batch = undefined;
    this.#counters.completed++;
    if (!outcome.ok) this.#counters.failed++;
    this.#counters.run.record(outcome.runMs);
    if (learn) this.#table.record(job.method, outcome.runMs, outcome.cpuMs);
    if (job.probe) this.#release(job.method);
    job.done(outcome, job.waitMs);
  }

  /** Calls not yet started go back to the head of their queue, in order. */
  #requeue(batch: Batch, jobs: Job[]): void {
    if (jobs.length === 0) return;
    batch.open -= jobs.length;
    this.#running -= jobs.length;
    this.#counters.requeued += jobs.length;
    for (const job of jobs) job.batch = undefined;
    this.#queues.putBack(jobs);
    if (batch.settled && batch.open === 0) this.#batches.delete(batch.id);
    this.#schedulePump();
  }

  /**
   * The batch went to a thread whose module failed to load: no call of it
   * started. They run elsewhere — or, once loading has failed everywhere
   * for long enough, they (and every queued call) get the load error.
   */
  #notLoaded(batch: Batch): void {
    const verdict = this.#loads.verdict(performance.now());
    if (verdict === undefined) return this.#settle(batch, null);
    const refuse = failure(ErrorCode.Internal, `dispatch module failed to load: ${verdict}`, { failure: 'load_failed' });
    this.#settle(batch, null, refuse);
    for (const job of this.#queues.drain()) this.#finish(job, refuse, false);
  }

  /** No call of `batch` has started: some are still its own and Queued, none has run. */
  #untouched(batch: Batch): boolean {
    let queued = 0;
    for (let i = 0; i < batch.jobs.length; i++) {
      if ((batch.jobs[i] as Job).batch !== batch) return false; // answered or taken back: something happened to it
      if (batch.state(i) !== Slot.Queued) return false;
      queued++;
    }
    return queued > 0;
  }

  /** Pumps again when the next load retry is due. */
  #retryLater(): void {
    if (this.#retryTimer !== undefined || this.#stopped || this.queued === 0) return;
    const wait = Math.max(1, this.#loads.retryAt(performance.now()) - performance.now());
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pump();
    }, wait);
    this.#retryTimer.unref();
  }

  #settle(batch: Batch, err: RunFailure | null, refuse?: Outcome): void {
    // Results of calls that finished are in the arena even if the thread is gone.
    this.#readArena(batch);
    batch.settled = true;
    this.#used(batch.slot, -1);
    if (batch.slot === 'fast' && batch.lane === 'fast') this.#onReserve--;
    // The region is free once every call's state is read below: a thread stopped late only holds an old generation.
    const release = (): void => void this.#freeRegions.push(batch.base / this.#opts.maxBatch);
    this.#counters.busy(performance.now() - batch.startedAt);
    const lost = err === null ? null : err.error;
    const back: Job[] = [];
    let trailing = false;
    batch.jobs.forEach((job, i) => {
      if (job.batch !== batch || job.state !== 'running') return;
      if (batch.swap(i, Slot.Queued, Slot.Withdrawn)) back.push(job);
      else if (batch.swap(i, Slot.Running, Slot.Killed)) {
        const message = `worker stopped while running this call: ${lost?.message ?? 'unknown'}`;
        this.#answer(batch, job, failure(ErrorCode.Internal, message, lost?.data ?? { failure: 'worker_stopped' }), false);
      } else trailing = true; // Done: its result is on its way
    });
    release();
    if (this.#stopped || refuse !== undefined) {
      const answer = refuse ?? failure(ErrorCode.Internal, 'pool is stopped', STOPPED);
      for (const job of back) this.#answer(batch, job, answer, false);
    } else this.#requeue(batch, back);
    if (trailing) {
      setTimeout(() => {
        batch.jobs.forEach((job) => {
          if (job.batch === batch && job.state === 'running') this.#answer(batch, job, failure(ErrorCode.Internal, 'result lost with its worker', { failure: 'result_lost' }), false);
        });
      }, RESULT_GRACE_MS).unref();
    }
    if (batch.open === 0) this.#batches.delete(batch.id);
    this.#pump();
    this.#checkIdle();
  }

  /** Stops call i of `batch` for its deadline: it alone gets -32004; its batch mates not started run elsewhere. */
  #kill(batch: Batch, i: number): void {
    const job = batch.jobs[i] as Job;
    if (!batch.swap(i, Slot.Running, Slot.Killed)) return; // it finished first: its result stands
    this.#counters.kills++;
    this.#requeue(batch, batch.withdrawFrom(i + 1));
    this.#answer(batch, job, failure(ErrorCode.DeadlineExceeded, `call exceeded its deadline of ${this.#opts.deadlineMs} ms; its worker was replaced`, boundData('call_deadline_ms', this.#opts.deadlineMs)), false);
    // Terminated only where that is safe: a thread inside guarded native code is stopped as it returns.
    this.#guards.whenStoppable(batch.base / this.#opts.maxBatch, () => batch.abort?.abort());
  }

  /**
   * Runs the module's maintain(ctx) on a slow thread, counted as CPU work.
   * Returns null (and runs nothing) unless a thread can be spared: nothing
   * queued, a slow and a CPU slot free, and another thread left for calls.
   */
  async maintain(ctx: unknown): Promise<Outcome | null> {
    const { threads, fastThreads, cpuThreads } = this.#opts;
    if (!this.#loaded || this.#stopped || this.queued > 0) return null;
    const slowFree = threads - this.#slowBusy;
    if (slowFree < 1 || this.#cpuUsed >= Math.min(cpuThreads, threads) || slowFree + fastThreads - this.#onReserve < 2) return null;
    this.#used('cpu', +1);
    const started = performance.now();
    try {
      return await this.#runners.track((runner) => runner.maintain(ctx, this.#opts.maxResultBytes));
    } finally {
      this.#used('cpu', -1);
      this.#counters.busy(performance.now() - started);
      this.#pump();
      this.#checkIdle();
    }
  }

  /** Calls waiting for a thread (or for their method's probe). */
  get queued(): number {
    return this.#queues.size;
  }

  stats(): PoolStats {
    const { threads, fastThreads, cpuThreads, maxQueue } = this.#opts;
    const runner = this.#runners.stats();
    const capacity = threads + fastThreads;
    return {
      module: this.#loaded ? (this.#loads.failing ? 'failing' : 'loaded') : this.#loadError !== undefined ? 'failed' : 'loading',
      ...this.#loads.summary(),
      threads_in_native: this.#guards.inNative,
      reloads: this.#reloads.count,
      reload_failures: this.#reloads.failures,
      last_reload_error: this.#reloads.lastError,
      replaced_runners_finishing: this.#runners.replaced,
      recycled_after_calls: this.#recycled.calls,
      recycled_heap: this.#recycled.heap,
      threads: capacity,
      threads_started: runner.threads,
      threads_created: runner.threads_created,
      threads_retired_idle: runner.threads_retired_idle,
      threads_kept_warm: this.#demand.keptWarm,
      slow_threads: threads,
      fast_threads: fastThreads,
      cpu_threads: cpuThreads,
      running: this.#running,
      running_cpu: this.#cpuUsed,
      running_wait: this.#waitUsed,
      queue_size: this.queued,
      queued_fast: this.#queues.fast.live,
      queued_slow: this.#queues.cpu.live + this.#queues.wait.live,
      held_new: this.#queues.held,
      max_queue: maxQueue,
      ...this.#counters.summary(capacity),
      lanes: this.#table.snapshot(),
    };
  }

  #checkIdle(): void {
    if (this.#total > 0 || this.#batches.size > 0 || this.queued > 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const w of waiters) w();
  }

  /**
   * Loads the dispatch module again, in new threads, while the old ones
   * serve: if it loads, new calls go to the new threads and the old ones
   * finish what they hold and stop; if it fails (or takes longer than
   * `timeoutMs`), nothing changes and this rejects with its load error.
   * Reloads asked for while one runs share it.
   */
  reload(timeoutMs: number): Promise<ReloadReport> {
    if (this.#stopped) return Promise.reject(new Error('pool is stopped'));
    return this.#reloads.share(() => this.#reload(timeoutMs));
  }

  async #reload(timeoutMs: number): Promise<ReloadReport> {
    const started = performance.now();
    const health = new LoadHealth(LOAD_VERDICT_MS);
    const next = this.#makeRunner(this.#sinkFor(health), this.#progress);
    let lanes: PingReply['lanes'];
    try {
      lanes = await loaded(next, timeoutMs);
      if (this.#stopped) throw new Error('pool is stopped');
    } catch (err) {
      this.#reloads.failed(err);
      await this.#runners.discard(next);
      throw err;
    }
    this.#runners.swap(next);
    this.#table = this.#newTable(lanes);
    this.#loads = health;
    this.#schedulePump();
    return { reloads: this.#reloads.succeeded(), load_ms: Math.round(performance.now() - started), lanes: Object.keys(lanes).length };
  }

  /** What kind the pool gives `method` now (for tests and status). */
  kindOf(method: string): CallKind {
    return this.#table.kindOf(method);
  }

  /** Threads that came up (loaded or failed their module) or went, every runner's, since the pool began: a cheap counter, unlike stats(). */
  get threadChanges(): number {
    return this.#threadChanges;
  }

  /** Threads started now (booting or running, both pools): what their fds are kept aside for (server.ts). */
  get threadsStarted(): number {
    return this.#runners.stats().threads;
  }

  /**
   * Graceful: takes no new calls, lets queued and running ones finish, then
   * stops the threads. Idempotent; `destroy()` cuts it short.
   */
  async close(): Promise<void> {
    if (!this.#stopped) {
      const drained = this.queued === 0 && this.#total === 0 && this.#batches.size === 0;
      if (!drained && this.#loaded) await new Promise<void>((resolve) => this.#idle.push(resolve));
    }
    await this.destroy();
  }

  /** Immediate: queued calls fail with -32001, running tasks are abandoned, threads stop. Idempotent. */
  async destroy(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#watchdog.stop();
      if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
      clearInterval(this.#retire);
      const stop = failure(ErrorCode.Internal, 'pool is stopped', STOPPED);
      for (const job of this.#queues.drain()) this.#finish(job, stop, false);
      // No thread is terminated inside native code (guardNative): those finish it first.
      this.#safeToStop = this.#guards.stopAll(NATIVE_GRACE_MS).then(() => this.#guards.dispose());
    }
    await this.#safeToStop;
    await this.#runners.destroy();
    const idle = this.#idle;
    this.#idle = [];
    for (const w of idle) w();
  }
}
