/** The built-in memory store (workers/store.ts), served by the real daemon. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../workers/sqlite.js';
import { Conn, roundTrip, silent, startDaemon, tmpHome, type Running } from './helper.js';
import { resolveConfig } from '../src/config.js';
import { Daemon } from '../src/daemon.js';

let d: Running;
before(async () => {
  d = await startDaemon({ dispatch: null, threads: 2 });
});
after(() => d.close());

let seq = 0;
async function call(method: string, params?: unknown, socket = d.socket): Promise<Record<string, unknown>> {
  return roundTrip(socket, { jsonrpc: '2.0', id: ++seq, method, params });
}
async function ok(method: string, params?: unknown, socket = d.socket): Promise<any> {
  const r = await call(method, params, socket);
  assert.ok('result' in r, `${method} failed: ${JSON.stringify(r.error)}`);
  return r.result;
}
const code = (r: Record<string, unknown>): number | undefined => (r.error as { code?: number } | undefined)?.code;

describe('capture / recall / get / forget', () => {
  test('a captured memory is recalled, fetched, and forgotten', async () => {
    const c = await ok('memory_capture', { text: 'The zebra crossed the savanna at dawn', tags: ['wildlife', 'dawn'], session_id: 's1' });
    assert.equal(typeof c.id, 'number');
    assert.ok(!Number.isNaN(Date.parse(c.created_at)));
    const r = await ok('memory_recall', { cue: 'zebra' });
    assert.equal(r.total, 1);
    assert.equal(r.hits[0].id, c.id);
    assert.deepEqual(r.hits[0].tags, ['wildlife', 'dawn']);
    assert.equal(typeof r.hits[0].score, 'number');
    const g = await ok('memory_get', { id: c.id });
    assert.equal(g.text, 'The zebra crossed the savanna at dawn');
    assert.equal(g.session_id, 's1');
    assert.deepEqual(await ok('memory_forget', { id: c.id }), { forgotten: true });
    assert.deepEqual(await ok('memory_forget', { id: c.id }), { forgotten: false });
    assert.equal((await ok('memory_recall', { cue: 'zebra' })).total, 0);
    assert.equal(await ok('memory_get', { id: c.id }), null);
  });

  test('tags are searchable and session_id filters', async () => {
    await ok('memory_capture', { text: 'kiwi orchard notes', tags: ['fruitbat'], session_id: 'A' });
    await ok('memory_capture', { text: 'kiwi bird notes', session_id: 'B' });
    assert.equal((await ok('memory_recall', { cue: 'fruitbat' })).total, 1);
    assert.equal((await ok('memory_recall', { cue: 'kiwi' })).total, 2);
    const onlyB = await ok('memory_recall', { cue: 'kiwi', session_id: 'B' });
    assert.equal(onlyB.total, 1);
    assert.equal(onlyB.hits[0].text, 'kiwi bird notes');
  });

  test('ranking: the memory matching more of the cue ranks first; limit caps hits, not total', async () => {
    await ok('memory_capture', { text: 'quasar telescope observation log' });
    await ok('memory_capture', { text: 'quasar spectrum' });
    await ok('memory_capture', { text: 'telescope maintenance' });
    const r = await ok('memory_recall', { cue: 'quasar telescope' });
    assert.equal(r.total, 3);
    assert.equal(r.hits[0].text, 'quasar telescope observation log');
    assert.ok(r.hits[0].score >= r.hits[1].score);
    const one = await ok('memory_recall', { cue: 'quasar telescope', limit: 1 });
    assert.equal(one.hits.length, 1);
    assert.equal(one.total, 3);
  });

  test('ranking like a search engine: every word first, then any; common words never match alone', async () => {
    const s = 'ranking';
    for (const text of ['lunch is at noon', 'where is the shed key?', 'the deploy key lives in the vault', 'deploy the frontend on friday', 'Deploy KEY rotation runbook']) {
      await ok('memory_capture', { text, session_id: s });
    }
    const r = await ok('memory_recall', { cue: 'where is the deploy key?', session_id: s });
    const texts = r.hits.map((h: { text: string }) => h.text);
    // Both uncommon words first (either order, by bm25), then memories holding one of them.
    assert.deepEqual(texts.slice(0, 2).sort(), ['Deploy KEY rotation runbook', 'the deploy key lives in the vault']);
    assert.deepEqual(texts.slice(2).sort(), ['deploy the frontend on friday', 'where is the shed key?']);
    assert.ok(!texts.includes('lunch is at noon'), 'matched on "is" alone');
    assert.equal(r.total, 4);
    // A cue of only common words must match all of them.
    const common = await ok('memory_recall', { cue: 'where is', session_id: s });
    assert.deepEqual(common.hits.map((h: { text: string }) => h.text), ['where is the shed key?']);
  });

  test('budget_tokens cuts the hits at about 4 characters a token', async () => {
    for (let i = 0; i < 3; i++) await ok('memory_capture', { text: `marmot ${'x'.repeat(393)}` }); // 400 chars ≈ 100 tokens
    assert.equal((await ok('memory_recall', { cue: 'marmot' })).hits.length, 3);
    assert.equal((await ok('memory_recall', { cue: 'marmot', budget_tokens: 250 })).hits.length, 2);
    assert.equal((await ok('memory_recall', { cue: 'marmot', budget_tokens: 50 })).hits.length, 0);
  });

  test('stats count memories and report the schema', async () => {
    const s = await ok('memory_stats', {});
    assert.ok(s.count >= 8);
    assert.equal(s.schema_version, 1);
    assert.ok(s.db_bytes > 0);
  });
});

describe('validation: wrong or missing params → -32602 naming the field', () => {
  const cases: [string, unknown, RegExp][] = [
    ['memory_capture', {}, /missing required param: 'text'/],
    ['memory_capture', { text: '' }, /'text'/],
    ['memory_capture', { text: '   ' }, /'text'/],
    ['memory_capture', { text: 5 }, /'text'/],
    ['memory_capture', { text: 'x', tags: 'a' }, /'tags'/],
    ['memory_capture', { text: 'x', tags: [1] }, /'tags'/],
    ['memory_capture', { text: 'x', session_id: 7 }, /'session_id'/],
    ['memory_capture', { text: 'x'.repeat(512 * 1024 + 1) }, /'text' is larger/],
    ['memory_capture', [], /params must be an object/],
    ['memory_recall', {}, /^missing required param: 'cue'$/],
    ['memory_recall', { cue: 3 }, /'cue'/],
    ['memory_recall', { cue: 'a', limit: 0 }, /'limit'/],
    ['memory_recall', { cue: 'a', limit: 'ten' }, /'limit'/],
    ['memory_recall', { cue: 'a', budget_tokens: -1 }, /'budget_tokens'/],
    ['memory_recall', { cue: 'a', session_id: [] }, /'session_id'/],
    ['memory_get', {}, /missing required param: 'id'/],
    ['memory_get', { id: 'x' }, /'id'/],
    ['memory_forget', { id: 1.5 }, /'id'/],
  ];
  for (const [method, params, message] of cases) {
    test(`${method} ${JSON.stringify(params).slice(0, 40)}`, async () => {
      const r = await call(method, params);
      assert.equal(code(r), -32602, JSON.stringify(r));
      assert.match((r.error as { message: string }).message, message);
    });
  }
});

describe('hostile cues are plain text', () => {
  const cues = ['"', 'NEAR(', '*', 'AND OR', 'NOT', '😀🦊', 'x'.repeat(10 * 1024), "'); DROP TABLE memories; --", 'text:zebra', '^start', '-minus', '(', '""', '', 'a"b"c', 'über naïve café', 'NEAR(a b, 2)'];
  for (const cue of cues) {
    test(`cue ${JSON.stringify(cue.slice(0, 20))}`, async () => {
      const r = await call('memory_recall', { cue });
      assert.ok('result' in r, JSON.stringify(r.error));
      const res = r.result as { hits: unknown[]; total: number };
      assert.ok(Array.isArray(res.hits));
      assert.equal(typeof res.total, 'number');
    });
  }
  test('unicode is searchable', async () => {
    await ok('memory_capture', { text: 'Crème brûlée at the café 🦊' });
    assert.equal((await ok('memory_recall', { cue: 'creme brulee' })).total, 1);
  });
});

describe('concurrency and persistence', () => {
  test('8 connections × 200 concurrent captures lose nothing', async () => {
    const before = (await ok('memory_stats', {})).count as number;
    const conns = await Promise.all(Array.from({ length: 8 }, () => Conn.open(d.socket)));
    conns.forEach((c, k) => {
      c.send(Array.from({ length: 200 }, (_, i) => `${JSON.stringify({ jsonrpc: '2.0', id: i, method: 'memory_capture', params: { text: `bulk ${k} ${i}` } })}\n`).join(''));
    });
    const lines = await Promise.all(conns.map((c) => c.waitLines(200, 60_000)));
    for (const c of conns) c.close();
    for (const ls of lines) for (const l of ls) assert.ok('result' in JSON.parse(l), l);
    assert.equal((await ok('memory_stats', {})).count, before + 1600);
  });

  test('data survives a restart; files are 0600', async () => {
    const { dir, cleanup } = tmpHome();
    try {
      const config = resolveConfig({ home: dir, threads: 1 }, {});
      let daemon = await Daemon.start(config, { log: silent, env: {} });
      const { id } = await ok('memory_capture', { text: 'persistent pangolin' }, config.socket);
      await daemon.close();
      for (const f of ['store.db', 'store.db-wal', 'store.db-shm']) {
        try {
          assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      daemon = await Daemon.start(config, { log: silent, env: {} });
      const r = await ok('memory_recall', { cue: 'pangolin' }, config.socket);
      assert.equal(r.hits[0].id, id);
      const m = await daemon.pool.maintain({});
      assert.equal(m?.ok, true, JSON.stringify(m));
      await daemon.close();
    } finally {
      cleanup();
    }
  });

  test('the daemon refuses to start on a database that is not a dispatchd store', async () => {
    const { dir, cleanup } = tmpHome();
    try {
      const other = openDb(join(dir, 'store.db'), { binding: 'auto', timeoutMs: 1000, mustExist: false });
      other.exec('CREATE TABLE invoices (n INTEGER)');
      other.close();
      const config = resolveConfig({ home: dir, threads: 1 }, {});
      await assert.rejects(Daemon.start(config, { log: silent, env: {} }), /not a dispatchd store/);
    } finally {
      cleanup();
    }
  });
});
