// better-sqlite3 vs node:sqlite (DatabaseSync) on the built-in store's schema
// and statements: load, open, capture and recall throughput, busy timeout,
// and terminating a worker thread while it waits on a busy lock.
// Not a test: numbers for docs/sqlite-binding.md. Run from a checkout whose
// node_modules was installed by the same Node:
//
//   node bench/sqlite-binding.mjs [rows=5000] [recalls=3000]   (TRIALS=n terminate trials, default 10; 0 skips them)
//
// Plain JS (not compiled, not shipped) so it runs on any Node line as is.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(process.cwd(), 'package.json'));
const SELF = fileURLToPath(import.meta.url);

const SCHEMA = `CREATE TABLE memories (
     id INTEGER PRIMARY KEY, text TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '[]',
     session_id TEXT, created_at TEXT NOT NULL);
   CREATE INDEX memories_session ON memories(session_id);
   CREATE VIRTUAL TABLE memories_fts USING fts5(
     text, tags, content='memories', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
   CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
     INSERT INTO memories_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags);
   END;`;
const INSERT = 'INSERT INTO memories (text, tags, session_id, created_at) VALUES (?, ?, ?, ?)';
const RECALL = `SELECT m.id, m.text, m.tags, m.session_id, m.created_at, bm25(memories_fts) AS rank
    FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid
    WHERE memories_fts MATCH ? AND (? IS NULL OR m.session_id = ?) ORDER BY rank LIMIT ?`;
const WORDS = 'deploy key vault rotate token cluster backup restore alert pager incident review latency budget cache shard replica schema index migrate'.split(' ');

/** One interface over both bindings: open(path, busyMs) → { exec, prepare(sql) → { run, all }, close }. */
function binding(name) {
  if (name === 'better-sqlite3') {
    const Database = require('better-sqlite3');
    return (path, busyMs) => {
      const db = new Database(path, { timeout: busyMs });
      return { exec: (s) => db.exec(s), prepare: (s) => db.prepare(s), close: () => db.close() };
    };
  }
  const { DatabaseSync } = require('node:sqlite');
  return (path, busyMs) => {
    const db = new DatabaseSync(path, { timeout: busyMs });
    return { exec: (s) => db.exec(s), prepare: (s) => db.prepare(s), close: () => db.close() };
  };
}

function ms(t0) {
  return performance.now() - t0;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Load, open (new and existing file), capture and recall throughput. */
function throughput(name, rows, recalls) {
  const t0 = performance.now();
  const open = binding(name);
  const loadMs = ms(t0);
  const dir = mkdtempSync('/tmp/sqlb-');
  try {
    const path = join(dir, 'store.db');
    const pragmas = 'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;';
    let t = performance.now();
    let db = open(path, 5000);
    db.exec(pragmas);
    db.exec(SCHEMA);
    const createMs = ms(t);
    db.close();
    const reopen = [];
    for (let i = 0; i < 20; i++) {
      t = performance.now();
      db = open(path, 5000);
      db.exec(pragmas);
      db.prepare('SELECT count(*) AS n FROM memories').all();
      reopen.push(ms(t));
      if (i < 19) db.close();
    }
    const insert = db.prepare(INSERT);
    const now = new Date().toISOString();
    t = performance.now();
    for (let i = 0; i < rows; i++) {
      const text = Array.from({ length: 12 }, (_, j) => WORDS[(i * 7 + j * 13) % WORDS.length]).join(' ') + ` note ${i}`;
      insert.run(text, '["ops"]', `s${i % 10}`, now);
    }
    const captureMs = ms(t);
    const recall = db.prepare(RECALL);
    t = performance.now();
    let hits = 0;
    for (let i = 0; i < recalls; i++) hits += recall.all(`${WORDS[i % WORDS.length]} ${WORDS[(i + 3) % WORDS.length]}`, null, null, 10).length;
    const recallMs = ms(t);
    db.close();
    return {
      binding: name,
      load_ms: +loadMs.toFixed(1),
      create_ms: +createMs.toFixed(2),
      reopen_ms_median: +median(reopen).toFixed(3),
      capture_per_s: Math.round(rows / (captureMs / 1000)),
      recall_per_s: Math.round(recalls / (recallMs / 1000)),
      recall_hits: hits,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A write waits for another connection's write lock: how long before it gives up, with what error. */
function busy(name) {
  const open = binding(name);
  const dir = mkdtempSync('/tmp/sqlb-');
  try {
    const path = join(dir, 'b.db');
    const a = open(path, 0);
    a.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (x)');
    a.exec('BEGIN IMMEDIATE');
    const b = open(path, 300);
    const t = performance.now();
    let error = null;
    try {
      b.exec('INSERT INTO t VALUES (1)');
    } catch (err) {
      error = `${err.code ?? ''} ${err.errcode ?? ''} ${err.message}`.trim();
    }
    const waited = ms(t);
    a.exec('ROLLBACK');
    a.close();
    b.close();
    return { binding: name, busy_timeout_ms: 300, waited_ms: Math.round(waited), error };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One trial in this (child) process: a worker thread waits on a busy lock
 * (timeout 3000 ms) and is terminated after 200 ms. Prints how long
 * terminate() took; a crash shows as the child's exit status or signal.
 */
async function terminateTrial(name) {
  const dir = mkdtempSync('/tmp/sqlb-');
  const path = join(dir, 't.db');
  const open = binding(name);
  const a = open(path, 0);
  a.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (x)');
  a.exec('BEGIN IMMEDIATE');
  const w = new Worker(SELF, { argv: ['worker', name, path] });
  await new Promise((resolve) => w.once('message', resolve)); // about to write
  await new Promise((r) => setTimeout(r, 200));
  const t = performance.now();
  await w.terminate();
  const took = ms(t);
  a.exec('ROLLBACK');
  a.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ terminate_ms: Math.round(took) }));
}

/** What loading the binding costs each new thread (the first thread also dlopens the addon). */
async function threadLoads(name) {
  const out = [];
  for (let i = 0; i < 3; i++) {
    const w = new Worker(SELF, { argv: ['load', name] });
    out.push(await new Promise((resolve) => w.once('message', resolve)));
    await w.terminate();
  }
  return { binding: name, thread_load_ms: out };
}

async function loadMain(name) {
  const { parentPort } = await import('node:worker_threads');
  const t = performance.now();
  const open = binding(name);
  open(':memory:', 0).close();
  parentPort.postMessage(+ms(t).toFixed(1));
}

async function workerMain(name, path) {
  const { parentPort } = await import('node:worker_threads');
  const db = binding(name)(path, 3000);
  parentPort.postMessage('writing');
  try {
    db.exec('INSERT INTO t VALUES (1)');
  } catch {
    // the busy timeout ran out: the thread was not terminated in time
  }
}

function terminate(name, trials) {
  const out = { binding: name, trials, exit_codes: {}, terminate_ms: [] };
  for (let i = 0; i < trials; i++) {
    const r = spawnSync(process.execPath, [SELF, 'terminate-trial', name], { encoding: 'utf8', cwd: process.cwd(), timeout: 20_000 });
    const key = r.signal ?? String(r.status);
    out.exit_codes[key] = (out.exit_codes[key] ?? 0) + 1;
    const m = /"terminate_ms":(\d+)/.exec(r.stdout);
    if (m) out.terminate_ms.push(Number(m[1]));
    else if (r.stderr) out.last_stderr = r.stderr.trim().split('\n').slice(-3).join(' | ');
  }
  out.terminate_ms_median = out.terminate_ms.length > 0 ? median(out.terminate_ms) : null;
  delete out.terminate_ms;
  return out;
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'worker') await workerMain(rest[0], rest[1]);
else if (mode === 'load') await loadMain(rest[0]);
else if (mode === 'terminate-trial') await terminateTrial(rest[0]);
else if (mode === 'one') {
  const [name, rows, recalls] = rest;
  console.log(JSON.stringify(throughput(name, Number(rows), Number(recalls))));
  console.log(JSON.stringify(await threadLoads(name)));
  console.log(JSON.stringify(busy(name)));
  if (process.env.TRIALS !== '0') console.log(JSON.stringify(terminate(name, Number(process.env.TRIALS ?? 10))));
} else {
  const rows = Number(mode ?? 5000);
  const recalls = Number(rest[0] ?? 3000);
  const names = [];
  try {
    require.resolve('better-sqlite3');
    names.push('better-sqlite3');
  } catch {}
  try {
    require('node:sqlite');
    names.push('node:sqlite');
  } catch {}
  console.log(JSON.stringify({ node: process.version }));
  for (const name of names) {
    // Each binding in its own process for a cold load time.
    const r = spawnSync(process.execPath, [SELF, 'one', name, String(rows), String(recalls)], { encoding: 'utf8', cwd: process.cwd() });
    process.stdout.write(r.stdout || `${name}: ${r.stderr}\n`);
  }
}
