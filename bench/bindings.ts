/**
 * Which SQLite bindings the built-in store can use under this Node and this
 * install, so the `store` and `startup` scenarios compare both in one run
 * where both are there (`--store-binding`; docs/sqlite-binding.md).
 */
import { createRequire, isBuiltin } from 'node:module';

export type SqliteBinding = 'node:sqlite' | 'better-sqlite3';

const require = createRequire(import.meta.url);

/** Asked without loading it: loading prints Node 22's ExperimentalWarning into the bench's output. */
function hasNodeSqlite(): boolean {
  return isBuiltin('node:sqlite');
}

function hasBetterSqlite(): boolean {
  try {
    // The native part loads on first open: an install built for another Node fails only here.
    const Database = require('better-sqlite3') as new (path: string) => { close(): void };
    new Database(':memory:').close();
    return true;
  } catch {
    return false;
  }
}

/** The bindings available, the default (`--store-binding auto`) first. */
export function sqliteBindings(): SqliteBinding[] {
  const node = hasNodeSqlite();
  const better = hasBetterSqlite();
  return [...(node ? ['node:sqlite' as const] : []), ...(better ? ['better-sqlite3' as const] : [])];
}
