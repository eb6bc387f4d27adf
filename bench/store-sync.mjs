// The cost of the store's synchronous=FULL: capture-like transactions (an insert and its FTS trigger)
// per second into a WAL database, FULL against NORMAL, in alternating rounds, with the binding the
// running Node gives the store (node:sqlite, or better-sqlite3 on Node 20).  Usage: node bench/store-sync.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const get = process.getBuiltinModule?.bind(process);
let open;
try { const { DatabaseSync } = get('node:sqlite'); open = (p) => new DatabaseSync(p); } catch { const B = require('better-sqlite3'); open = (p) => new B(p); }
const N = 2000;
const res = { FULL: [], NORMAL: [] };
for (let round = 0; round < 3; round++) for (const mode of round % 2 ? ['NORMAL', 'FULL'] : ['FULL', 'NORMAL']) {
  const dir = mkdtempSync('/tmp/sync-'); const db = open(`${dir}/s.db`);
  db.exec('PRAGMA journal_mode=WAL'); db.exec(`PRAGMA synchronous=${mode}`);
  db.exec("CREATE TABLE m (id INTEGER PRIMARY KEY, text TEXT); CREATE VIRTUAL TABLE f USING fts5(text, content='m', content_rowid='id'); CREATE TRIGGER ai AFTER INSERT ON m BEGIN INSERT INTO f(rowid, text) VALUES (new.id, new.text); END;");
  const ins = db.prepare('INSERT INTO m (text) VALUES (?)');
  const t = performance.now();
  for (let i = 0; i < N; i++) { db.exec('BEGIN'); ins.run(`note number ${i} about things`); db.exec('COMMIT'); }
  res[mode].push(N / ((performance.now() - t) / 1000));
  db.close(); rmSync(dir, { recursive: true, force: true });
}
const med = (x) => [...x].sort((a, b) => a - b)[1].toFixed(0);
console.log(`${process.version}: captures/s synchronous=FULL ${med(res.FULL)}, NORMAL ${med(res.NORMAL)} (3 alternating rounds of ${N}; each a transaction with its FTS trigger)`);
