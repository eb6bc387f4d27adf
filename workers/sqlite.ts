/**
 * The built-in store's SQLite, through Node's own `node:sqlite` where the
 * running Node has it (22.13+, 24, 26: nothing to compile at install, and a
 * thread loads it in well under a millisecond), else better-sqlite3 (an
 * optional dependency, for Node 20). One small synchronous interface over
 * both, so the store has one code path; docs/sqlite-binding.md has the
 * measurements behind the choice.
 */
import { createRequire } from 'node:module';

export interface Statement {
  run(...params: unknown[]): { readonly lastInsertRowid: number | bigint; readonly changes: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

export interface Db {
  /** Which binding this is: `node:sqlite` or `better-sqlite3`. */
  readonly binding: string;
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}

import type { StoreBinding } from '../src/contract/contract.js';

/** Which binding to open with; `auto` is node:sqlite where this Node has it, else better-sqlite3. */
export type Binding = StoreBinding;

export interface OpenOptions {
  readonly binding: Binding;
  /** How long a statement waits for another connection's lock (ms). */
  readonly timeoutMs: number;
  /** Refuse to create the file: it must exist already. */
  readonly mustExist: boolean;
}

interface NodeSqlite {
  readonly DatabaseSync: new (path: string, options?: { timeout?: number; open?: boolean }) => { exec(sql: string): void; prepare(sql: string): Statement; close(): void };
}
type BetterSqlite = new (path: string, options?: { timeout?: number; fileMustExist?: boolean }) => {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
};

const require = createRequire(import.meta.url);

/** node:sqlite where this Node has it (unflagged), else undefined. */
function nodeSqlite(): NodeSqlite | undefined {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get !== 'function') return undefined;
  // Node 22 prints "SQLite is an experimental feature" once per thread as it loads; the store's use of it
  // is tested on every line, so that line would only say the same thing in the log at every thread start.
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]): void => {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: unknown } | undefined)?.type;
    const text = typeof warning === 'string' ? warning : warning.message;
    if (type === 'ExperimentalWarning' && /sqlite/i.test(text)) return;
    (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    const mod = get('node:sqlite') as NodeSqlite | undefined;
    return mod !== undefined && typeof mod.DatabaseSync === 'function' ? mod : undefined;
  } catch {
    return undefined;
  } finally {
    process.emitWarning = emit;
  }
}

/** Opens `path` with the binding asked for (`auto`: whichever this Node has). */
export function openDb(path: string, opts: OpenOptions): Db {
  const native = opts.binding === 'better-sqlite3' ? undefined : nodeSqlite();
  if (opts.binding === 'node:sqlite' && native === undefined) {
    throw new Error(`this Node (${process.version}) has no node:sqlite (Node 22.13 or later has it); use --store-binding auto or better-sqlite3`);
  }
  if (native !== undefined) {
    // node:sqlite has no "must exist" flag; a read-write URI without create refuses a missing file.
    const target = opts.mustExist && path !== ':memory:' ? `file:${path.split('/').map(encodeURIComponent).join('/')}?mode=rw` : path;
    const db = new native.DatabaseSync(target, { timeout: opts.timeoutMs });
    return { binding: 'node:sqlite', exec: (sql) => db.exec(sql), prepare: (sql) => db.prepare(sql), close: () => db.close() };
  }
  let Better: BetterSqlite;
  try {
    Better = require('better-sqlite3') as BetterSqlite;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (opts.binding === 'better-sqlite3') throw new Error(`--store-binding better-sqlite3: better-sqlite3 could not be loaded (npm install better-sqlite3, built for this Node ${process.version}): ${why}`);
    throw new Error(`this Node (${process.version}) has no node:sqlite and better-sqlite3 is not installed (npm install better-sqlite3): ${why}`);
  }
  const db = new Better(path, { timeout: opts.timeoutMs, fileMustExist: opts.mustExist });
  return { binding: 'better-sqlite3', exec: (sql) => db.exec(sql), prepare: (sql) => db.prepare(sql), close: () => db.close() };
}

/** True for SQLite's "busy" and "locked" (another connection holds what this one needs). */
export function isBusy(err: unknown): boolean {
  const e = err as { code?: unknown; errcode?: unknown } | null;
  if (typeof e?.errcode === 'number') return (e.errcode & 0xff) === 5 || (e.errcode & 0xff) === 6; // node:sqlite: SQLITE_BUSY, SQLITE_LOCKED
  return typeof e?.code === 'string' && (e.code.startsWith('SQLITE_BUSY') || e.code.startsWith('SQLITE_LOCKED'));
}

/**
 * Runs `fn` in a transaction (`BEGIN IMMEDIATE` takes the write lock first).
 * If `fn` or the COMMIT throws, the transaction is rolled back and that error
 * is thrown: a COMMIT that failed (busy, I/O) leaves the transaction open, and
 * the thread's one connection would otherwise refuse every later call and
 * hold the lock. The ROLLBACK is best effort (SQLite may have rolled back by
 * itself), so it never hides the error that caused it.
 */
export function transaction<T>(db: Db, mode: 'deferred' | 'immediate', fn: () => T): T {
  db.exec(mode === 'immediate' ? 'BEGIN IMMEDIATE' : 'BEGIN');
  try {
    const value = fn();
    db.exec('COMMIT');
    return value;
  } catch (err) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // no transaction left to roll back
    }
    throw err;
  }
}

/** One PRAGMA's value (`PRAGMA name` or `PRAGMA name = value`), its first column. */
export function pragma(db: Db, text: string): unknown {
  const row = db.prepare(`PRAGMA ${text}`).get() as Record<string, unknown> | undefined;
  return row === undefined ? undefined : Object.values(row)[0];
}
