/**
 * The built-in store's file (docs/store.md): what a dispatchd store is (its
 * application id and schema migrations) and how any thread opens one.
 * Opening a store at the current schema takes no write lock; the first
 * opener of a new store sets WAL and migrates, the others wait and retry.
 * Must not open or close the file itself: only SQLite touches it (store.ts).
 */
import { isBusy, openDb, pragma, transaction, type Binding, type Db } from './sqlite.js';

/**
 * Page cache per connection (KiB), the same under either binding. Recall over
 * 20 000 memories, node:sqlite, Node 26, C=1 / C=16 calls/s: 2 MiB (SQLite's
 * default, node:sqlite's) 375 / 796, 4 MiB 509 / 1013, 8 MiB 497 / 1055,
 * 16 MiB (better-sqlite3's default) 430 / 887. Each thread keeps what it
 * filled after a busy period, so the smallest size past the knee.
 */
const CACHE_KIB = 8_000;

/** 'dsp1' — marks a SQLite file as a dispatchd store. */
const APPLICATION_ID = 0x64737031;

/** Schema migrations, in order; schema_version holds how many are applied. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE memories (
     id INTEGER PRIMARY KEY,
     text TEXT NOT NULL,
     tags TEXT NOT NULL DEFAULT '[]',
     session_id TEXT,
     created_at TEXT NOT NULL
   );
   CREATE INDEX memories_session ON memories(session_id);
   CREATE VIRTUAL TABLE memories_fts USING fts5(
     text, tags, content='memories', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
   );
   CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
     INSERT INTO memories_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags);
   END;
   CREATE TRIGGER memories_ad AFTER DELETE ON memories BEGIN
     INSERT INTO memories_fts(memories_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
   END;`,
];

/** What a store's file says about itself, read in one snapshot. */
interface StoreState {
  readonly appId: number;
  readonly tables: number;
  readonly version: number;
  readonly journal: string;
}

function inspect(db: Db): StoreState {
  // One read transaction: a migration committed by another thread is seen whole or not at all.
  return transaction(db, 'deferred', () => {
    const appId = Number(pragma(db, 'application_id'));
    const tables = (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").get() as { n: number }).n;
    const hasVersion = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get() !== undefined;
    const row = hasVersion ? (db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined) : undefined;
    const journal = String(pragma(db, 'journal_mode'));
    return { appId, tables: Number(tables), version: Number(row?.version ?? 0), journal };
  });
}

const pause = new Int32Array(new SharedArrayBuffer(4));
function sleep(ms: number): void {
  Atomics.wait(pause, 0, 0, ms);
}

/**
 * Opens the store at `path` (made ready: WAL, migrated, synchronous=FULL),
 * waiting up to `busyMs` for another thread that is creating it.
 */
export function openStore(path: string, binding: Binding, busyMs: number): Db {
  const db = openDb(path, { binding, timeoutMs: busyMs, mustExist: path !== ':memory:' });
  try {
    const until = Date.now() + busyMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const s = inspect(db);
        if (s.appId !== APPLICATION_ID && (s.appId !== 0 || s.tables > 0)) {
          throw new Error(`${path} is not a dispatchd store (application_id ${s.appId}, ${s.tables} tables); refusing to use it`);
        }
        if (s.version > MIGRATIONS.length) throw new Error(`store schema version ${s.version} is newer than this dispatchd (${MIGRATIONS.length})`);
        // Only a new store is changed here, once, by whichever thread gets the lock first.
        if (s.journal !== 'wal' && path !== ':memory:') pragma(db, 'journal_mode = WAL');
        if (s.appId !== APPLICATION_ID || s.version < MIGRATIONS.length) migrate(db);
        break;
      } catch (err) {
        // Another thread is creating the store (journal mode needs the file to itself): wait, look again.
        if (!isBusy(err) || Date.now() >= until) throw err;
        sleep(Math.min(50, 2 ** attempt));
      }
    }
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA foreign_keys = ON');
    // The same page cache under either binding (see CACHE_KIB; docs/sqlite-binding.md). It fills only as pages are read.
    db.exec(`PRAGMA cache_size = -${CACHE_KIB}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: Db): void {
  // Under the write lock, the version is read again: another thread may have migrated meanwhile.
  transaction(db, 'immediate', () => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
    const current = Number(row?.version ?? 0);
    if (current > MIGRATIONS.length) throw new Error(`store schema version ${current} is newer than this dispatchd (${MIGRATIONS.length})`);
    for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] as string);
    if (row === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
    else db.prepare('UPDATE schema_version SET version = ?').run(MIGRATIONS.length);
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
  });
}
