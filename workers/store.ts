/**
 * The built-in dispatch module: a small persistent memory store for agent
 * sessions, in SQLite (node:sqlite, or better-sqlite3 on Node 20 —
 * `sqlite.ts`; synchronous — exactly the kind of
 * call that must stay off the event loop). One connection per worker (module
 * scope), WAL with a busy timeout, full-text search with FTS5.
 *
 * The database path, text limit and busy timeout arrive in this module's URL
 * query (`store.js?db=…&maxText=…&busyMs=…`), so the same module works in a
 * worker and in inline mode without reading the environment.
 *
 * Rules this module keeps (docs/store.md):
 * - Its files are touched only through SQLite while a connection is open:
 *   opening and closing the file ourselves would drop SQLite's POSIX locks
 *   for the whole process, and another reader would then delete the WAL we
 *   still write to. The daemon creates store.db (0600) before any thread.
 * - Opening a store at the current schema takes no write lock; the first
 *   opener of a new store sets WAL and migrates, the others wait and retry
 *   (store-schema.ts, with the schema).
 * - synchronous=FULL: an acknowledged capture is on disk (survives a crash,
 *   SIGKILL and power loss).
 * - Every SQLite call runs inside guardNative: the daemon never terminates
 *   this thread while SQLite waits on a lock (that can abort the process);
 *   the busy timeout bounds the wait, below the call deadline.
 */
import { statSync } from 'node:fs';
import { InvalidParamsError, MethodNotFoundError, requireParam } from '../src/contract/errors.js';
import { claimCompletion, guardNative, STORE_BINDINGS } from '../src/contract/contract.js';
import { transaction, type Binding } from './sqlite.js';
import { openStore } from './store-schema.js';

const query = new URL(import.meta.url).searchParams;
const DB_PATH = query.get('db') ?? ':memory:';
const MAX_TEXT_BYTES = Number(query.get('maxText') ?? 512 * 1024);
/** Longest wait for another connection's lock, per statement (ms). */
const BUSY_MS = Number(query.get('busyMs') ?? 5000);
/** Which SQLite binding (--store-binding). */
const BINDING = bindingOf(query.get('binding'));
const MAX_TAGS = 64;
const MAX_TAG_CHARS = 128;
const MAX_SESSION_CHARS = 128;
const MAX_LIMIT = 100;

function bindingOf(raw: string | null): Binding {
  const binding = raw ?? 'auto';
  if ((STORE_BINDINGS as readonly string[]).includes(binding)) return binding as Binding;
  throw new Error(`unknown SQLite binding ${JSON.stringify(raw)} (${STORE_BINDINGS.join(', ')})`);
}

/** The store's lanes: lookups by id are always quick; the rest is learned. */
export const lanes = { memory_get: 'fast', memory_forget: 'fast', memory_stats: 'fast', ping: 'fast', echo: 'fast' } as const;

const db = guardNative(() => openStore(DB_PATH, BINDING, BUSY_MS));
const stmt = {
  insert: db.prepare('INSERT INTO memories (text, tags, session_id, created_at) VALUES (?, ?, ?, ?)'),
  get: db.prepare('SELECT id, text, tags, session_id, created_at FROM memories WHERE id = ?'),
  forget: db.prepare('DELETE FROM memories WHERE id = ?'),
  // Memories holding every word of the cue first, then those holding some; bm25 within each.
  recall: db.prepare(
    `SELECT m.id, m.text, m.tags, m.session_id, m.created_at, bm25(memories_fts) AS rank
       FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid
      WHERE memories_fts MATCH ? AND (? IS NULL OR m.session_id = ?)
      ORDER BY m.id IN (SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?) DESC, rank LIMIT ?`,
  ),
  total: db.prepare(
    `SELECT count(*) AS n FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid
      WHERE memories_fts MATCH ? AND (? IS NULL OR m.session_id = ?)`,
  ),
  count: db.prepare('SELECT count(*) AS n, count(DISTINCT session_id) AS sessions FROM memories'),
  version: db.prepare('SELECT version FROM schema_version'),
};

interface Row {
  id: number;
  text: string;
  tags: string;
  session_id: string | null;
  created_at: string;
  rank?: number;
}

function obj(params: unknown): Record<string, unknown> {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) throw new InvalidParamsError('params must be an object');
  return params as Record<string, unknown>;
}

function optionalString(p: Record<string, unknown>, key: string, max: number): string | null {
  const v = p[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new InvalidParamsError(`'${key}' must be a string`);
  if (v.length > max) throw new InvalidParamsError(`'${key}' must be at most ${max} characters`);
  return v;
}

function optionalInt(p: Record<string, unknown>, key: string, min: number, max: number): number | null {
  const v = p[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidParamsError(`'${key}' must be an integer from ${min} to ${max}`);
  }
  return v;
}

function requireId(params: unknown): number {
  const id = requireParam(obj(params), 'id');
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new InvalidParamsError("'id' must be a positive integer");
  return id;
}

/** Words too common to find anything by themselves (English). */
const STOPWORDS = new Set(
  ('a about above after again all am an and any are as at be because been before being below between both but by can could did do does doing down during ' +
    'each few for from further had has have having he her here hers him his how i if in into is it its itself just me more most my no nor not now of off on ' +
    'once only or other our ours out over own same she should so some such than that the their theirs them then there these they this those through to too ' +
    'under until up very was we were what when where which while who whom why will with would you your yours')
    .split(' '),
);

/**
 * Any user text as FTS5 queries that can't be a syntax error (its words,
 * each quoted, so operators, quotes and punctuation are just text), ranked
 * like a search engine: `any` matches a memory holding at least one
 * uncommon word of the cue, `all` one holding every uncommon word (those
 * rank first). Common words never match alone; a cue of only common words
 * must match all of them.
 */
function ftsQuery(cue: string): { readonly any: string; readonly all: string } | null {
  const words = cue.match(/[\p{L}\p{N}_]+/gu);
  if (!words) return null;
  const unique = [...new Set(words.slice(0, 64).map((w) => w.toLowerCase()))];
  const content = unique.filter((w) => !STOPWORDS.has(w));
  const quoted = (content.length > 0 ? content : unique).map((w) => `"${w}"`);
  const all = quoted.join(' AND ');
  return { any: content.length > 0 ? quoted.join(' OR ') : all, all };
}

function hit(r: Row): Record<string, unknown> {
  return {
    id: r.id,
    text: r.text,
    tags: JSON.parse(r.tags) as string[],
    ...(r.session_id !== null ? { session_id: r.session_id } : {}),
    ...(r.rank !== undefined ? { score: Math.round(-r.rank * 1e6) / 1e6 } : {}),
    created_at: r.created_at,
  };
}

/** Stored text must be stored exactly: a lone surrogate would become U+FFFD in SQLite, so it is refused. */
function requireWellFormed(key: string, v: string): void {
  // String.prototype.isWellFormed is in Node 20 but not in the ES2023 lib types.
  if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) throw new InvalidParamsError(`'${key}' must be well-formed UTF-16 (no lone surrogates)`);
}

function capture(params: unknown): unknown {
  const p = obj(params);
  const text = requireParam(p, 'text');
  if (typeof text !== 'string') throw new InvalidParamsError("'text' must be a string");
  requireWellFormed('text', text);
  if (text.trim().length === 0) throw new InvalidParamsError("'text' must not be empty");
  if (Buffer.byteLength(text) > MAX_TEXT_BYTES) throw new InvalidParamsError(`'text' is larger than ${MAX_TEXT_BYTES} bytes`);
  let tags: string[] = [];
  if (p.tags !== undefined && p.tags !== null) {
    if (!Array.isArray(p.tags) || p.tags.some((t) => typeof t !== 'string' || t.length === 0 || t.length > MAX_TAG_CHARS)) {
      throw new InvalidParamsError(`'tags' must be an array of non-empty strings of at most ${MAX_TAG_CHARS} characters`);
    }
    if (p.tags.length > MAX_TAGS) throw new InvalidParamsError(`'tags' may hold at most ${MAX_TAGS} tags`);
    tags = p.tags as string[];
    for (const t of tags) requireWellFormed('tags', t);
  }
  const session = optionalString(p, 'session_id', MAX_SESSION_CHARS);
  if (session !== null) requireWellFormed('session_id', session);
  const createdAt = new Date().toISOString();
  // Commit only if this call can still be answered: a capture answered -32004 is never stored.
  const info = transaction(db, 'deferred', () => {
    const r = stmt.insert.run(text, JSON.stringify(tags), session, createdAt);
    if (!claimCompletion()) throw new Error('call stopped before it could commit');
    return r;
  });
  return { id: Number(info.lastInsertRowid), created_at: createdAt };
}

function recall(params: unknown): unknown {
  const p = obj(params);
  const cue = requireParam(p, 'cue');
  if (typeof cue !== 'string') throw new InvalidParamsError("'cue' must be a string");
  const limit = optionalInt(p, 'limit', 1, MAX_LIMIT) ?? 10;
  const session = optionalString(p, 'session_id', MAX_SESSION_CHARS);
  const budget = optionalInt(p, 'budget_tokens', 1, Number.MAX_SAFE_INTEGER);
  const match = ftsQuery(cue);
  if (match === null) return { hits: [], total: 0 };
  const rows = stmt.recall.all(match.any, session, session, match.all, limit) as Row[];
  const total = (stmt.total.get(match.any, session, session) as { n: number }).n;
  let hits = rows;
  if (budget !== null) {
    // ≈ 4 characters a token; keep the best hits that fit.
    let used = 0;
    hits = [];
    for (const r of rows) {
      used += Math.ceil(r.text.length / 4);
      if (used > budget) break;
      hits.push(r);
    }
  }
  return { hits: hits.map(hit), total };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function stats(): unknown {
  const c = stmt.count.get() as { n: number; sessions: number };
  return {
    count: c.n,
    sessions: c.sessions,
    db_bytes: DB_PATH === ':memory:' ? 0 : fileSize(DB_PATH),
    wal_bytes: DB_PATH === ':memory:' ? 0 : fileSize(`${DB_PATH}-wal`),
    schema_version: (stmt.version.get() as { version: number }).version,
    max_text_bytes: MAX_TEXT_BYTES,
    sqlite: db.binding,
  };
}

export function dispatch(method: string, params: unknown): unknown {
  return guardNative(() => route(method, params));
}

function route(method: string, params: unknown): unknown {
  switch (method) {
    case 'memory_capture':
      return capture(params);
    case 'memory_recall':
      return recall(params);
    case 'memory_get': {
      const row = stmt.get.get(requireId(params)) as Row | undefined;
      return row === undefined ? null : hit(row);
    }
    case 'memory_forget':
      return { forgotten: Number(stmt.forget.run(requireId(params)).changes) > 0 };
    case 'memory_stats':
      return stats();
    case 'ping':
      return 'pong';
    case 'echo':
      return params;
    default:
      throw new MethodNotFoundError(method);
  }
}

/** One background maintenance cycle: merge FTS segments, checkpoint and truncate the WAL. */
export function maintain(): unknown {
  return guardNative(optimize);
}

function optimize(): unknown {
  const started = Date.now();
  db.exec("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')");
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number; log: number; checkpointed: number };
  return { optimized: true, checkpoint, ms: Date.now() - started };
}
