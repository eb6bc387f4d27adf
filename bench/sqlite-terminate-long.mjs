// A worker thread runs one long SQLite query (~4 s) and is terminated after
// 200 ms: does terminate() interrupt it, and does the process survive?
//   node bench/sqlite-terminate-long.mjs node|better   (from a checkout with node_modules)
import { Worker } from 'node:worker_threads';
const name = process.argv[2];
const code = `
const { parentPort } = require('node:worker_threads');
const db = ${name === 'node' ? "new (require('node:sqlite').DatabaseSync)(':memory:')" : "new (require('better-sqlite3'))(':memory:')"};
const st = db.prepare('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 20000000) SELECT count(*) AS n FROM c');
parentPort.postMessage('go'); const t = Date.now(); st.get(); parentPort.postMessage('done ' + (Date.now() - t));`;
const w = new Worker(code, { eval: true });
w.on('message', async (m) => {
  if (m !== 'go') return console.log(m);
  await new Promise((r) => setTimeout(r, 200));
  const t = performance.now();
  await w.terminate();
  console.log(JSON.stringify({ binding: name, long_query_terminate_ms: Math.round(performance.now() - t) }));
});
