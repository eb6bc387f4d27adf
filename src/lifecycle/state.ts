/**
 * The control-plane state file `<home>/state.json` (SPEC §4). Owns loading
 * (a corrupt file is kept aside, never discarded), and atomic persistence:
 * exclusive temp file in the same directory, fsync, fchmod 0600, rename,
 * fsync of the directory (files.ts). Mutations are applied in order and written in groups, so a
 * burst of control messages costs one fsync per group, and a failed write
 * leaves both the file and the in-memory state as they were.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { readRegularFile, removeLeftoverTemps, writeFileAtomic } from '../host/files.js';
import { cloneState, parseState, serializeState, type DaemonState } from './statedata.js';

/** The file's JSON object as read, before `parseState` gives it a type. */
export type StateData = Record<string, unknown>;

/** What `load` found: the data, and where a corrupt file was moved. */
export interface LoadResult {
  readonly data: StateData;
  readonly movedAside: string | null;
  readonly error: string | null;
}

/** Larger than any state the control plane writes; a bigger file is not ours to load. */
const MAX_STATE_BYTES = 64 * 1024 * 1024;
/** Deeper than any state the control plane writes; deeper data would overflow the stack when cloned or serialised. */
const MAX_STATE_DEPTH = 64;

/** Throws if `value` nests deeper than `max` (iteratively: the check itself must not overflow). */
function checkDepth(value: unknown, max: number): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) throw new Error(`state nests deeper than ${max} levels`);
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
}

/**
 * Reads the state file at start (sync: nothing is served yet). Anything that
 * is not a regular file holding a JSON object of sane depth — a symlink, a
 * FIFO, bad UTF-8, bad JSON, a 200k-deep nest — is renamed aside (the entry
 * itself; a link's target is never touched) and the daemon starts from {}.
 */
export function loadStateFile(path: string, now: Date = new Date()): LoadResult {
  const read = readRegularFile(path, MAX_STATE_BYTES);
  if (read.kind === 'missing') return { data: {}, movedAside: null, error: null };
  try {
    if (read.kind === 'unreadable') throw new Error(read.reason);
    const data = JSON.parse(read.text) as unknown;
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('state is not a JSON object');
    checkDepth(data, MAX_STATE_DEPTH);
    return { data: data as StateData, movedAside: null, error: null };
  } catch (err) {
    const aside = `${path}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
    renameSync(path, aside);
    return { data: {}, movedAside: aside, error: (err as Error).message };
  }
}

/** Writes `text` to `path` atomically (see files.ts). Throws, leaving `path` untouched, on failure. */
function writeAtomic(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, text, 0o600);
}

type Mutator<R> = (draft: DaemonState) => R;

interface Pending {
  readonly mutate: Mutator<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/** The store was closed: nothing more is written (the lock may be gone). */
export class StateClosedError extends Error {
  override get name(): string {
    return 'StateClosedError';
  }
}

/** The in-memory state and its file. Only this class writes state.json. */
export class StateStore {
  readonly path: string;
  #data: DaemonState;
  #written: string;
  #pending: Pending[] = [];
  #flushing = false;
  /** Settles when the running flush (if any) has written everything queued. */
  #idle: Promise<void> = Promise.resolve();
  #closed = false;
  /** Writes wait for this; false means the daemon did not start and nothing may be written. */
  readonly #gate: Promise<boolean>;
  /** Settles the gate of a held store; a no-op for one that was never held. */
  readonly #release: (started: boolean) => void;

  /**
   * `held`: every write waits for `release()` — the daemon's start answers
   * control messages before it has succeeded, and a start that fails must
   * leave state.json as it was, even if one of them asked for a change.
   */
  constructor(path: string, initial: DaemonState, opts: { readonly held: boolean } = { held: false }) {
    this.path = path;
    this.#data = initial;
    this.#written = '';
    let release: (started: boolean) => void = () => {};
    this.#gate = opts.held ? new Promise<boolean>((resolve) => (release = resolve)) : Promise.resolve(true);
    this.#release = release;
  }

  /** The committed state (what is on disk, once the first update has written the initial state). Do not mutate. */
  get data(): Readonly<DaemonState> {
    return this.#data;
  }

  /**
   * Applies `mutate` to a copy of the state, persists it, then commits it.
   * Resolves with what `mutate` returned; rejects (nothing committed) if the
   * write failed or the store is closed.
   */
  update<R>(mutate: Mutator<R>): Promise<R> {
    if (this.#closed) return Promise.reject(new StateClosedError('state store is closed'));
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ mutate, resolve: resolve as (v: unknown) => void, reject });
      if (this.#flushing) return;
      this.#flushing = true;
      this.#idle = this.#flush();
    });
  }

  /**
   * Ends the hold of a held store: true (the daemon started) lets the held
   * writes through in order, false refuses them and every later one. Only
   * the first call counts.
   */
  release(started: boolean): void {
    this.#release(started);
  }

  /**
   * Refuses further updates and waits for the writes already accepted, so
   * nothing touches the file once this resolves (the lock may go next).
   * Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#idle;
  }

  async #flush(): Promise<void> {
    if (!(await this.#gate)) {
      this.#closed = true;
      const refused = this.#pending;
      this.#pending = [];
      for (const p of refused) p.reject(new StateClosedError('the daemon did not start; nothing was written'));
      this.#flushing = false;
      return;
    }
    while (this.#pending.length > 0) {
      const group = this.#pending;
      this.#pending = [];
      const draft = cloneState(this.#data);
      const results: { ok: boolean; value: unknown }[] = [];
      for (const p of group) {
        try {
          results.push({ ok: true, value: p.mutate(draft) });
        } catch (err) {
          results.push({ ok: false, value: err });
        }
      }
      try {
        const text = serializeState(draft);
        if (text !== this.#written) await writeAtomic(this.path, text);
        this.#data = draft;
        this.#written = text;
        group.forEach((p, i) => {
          const r = results[i] as { ok: boolean; value: unknown };
          if (r.ok) p.resolve(r.value);
          else p.reject(r.value);
        });
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
    this.#flushing = false;
  }
}

/**
 * The store a daemon starts with: leftover temps removed, the file loaded
 * (a corrupt one kept aside), this run's start stamped in memory, and every
 * write held until `release()`. The start is stamped before anything is
 * served — a `status` in the moment between bind and the first write must
 * not show no start, or the previous run's — but reaches the disk only
 * with the first write after a start that succeeded.
 */
export function openStateStore(home: string, log: Logger): StateStore {
  const path = join(home, 'state.json');
  const leftovers = removeLeftoverTemps(home, 'state.json');
  if (leftovers.length > 0) log.warn({ removed: leftovers }, 'removed temp files left by an interrupted state write');
  const loaded = loadStateFile(path);
  if (loaded.movedAside !== null) {
    log.warn({ moved_to: loaded.movedAside, error: loaded.error }, 'state file was unreadable; kept it aside and started from {}');
  }
  const parsed = parseState(loaded.data);
  if (parsed.reset.length > 0) log.warn({ keys: parsed.reset }, 'state file held values of the wrong type; reset them');
  const started = parsed.state;
  started.daemon_started_at = new Date().toISOString();
  started.daemon_pid = process.pid;
  delete started.daemon_stopped_at;
  return new StateStore(path, started, { held: true });
}
