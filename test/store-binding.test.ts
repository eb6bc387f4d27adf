/**
 * --store-binding: the built-in store runs on node:sqlite or better-sqlite3
 * (whichever this Node and this install have), answers the same on both,
 * and one store file serves either (a user who changes Node line keeps
 * their memories). A binding this Node lacks refuses the start by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { sqliteBindings } from '../bench/bindings.js';
import { openStore } from '../workers/store-schema.js';
import { pragma, type Binding } from '../workers/sqlite.js';
import { join, roundTrip, waitForSocket, exitWithin } from './helper.js';
import { onTeardown, spawnDaemon, tempDir, type Teardown } from './daemons.js';
import { ConfigError, resolveConfig } from '../src/config.js';

const available: string[] = sqliteBindings();
const isInstalled = (name: string): boolean => {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
};
const hasNodeSqlite = available.includes('node:sqlite');

/** Serves `home` with `binding`, runs `calls` in order, stops; their replies. */
async function serveAndCall(t: Teardown, home: string, binding: string, calls: [string, unknown][]): Promise<Record<string, unknown>[]> {
  const socket = join(home, 'daemon.sock');
  const child = spawnDaemon(t, ['serve', '--home', home, '--log-level', 'warn', '--store-binding', binding]);
  await waitForSocket(socket);
  const out: Record<string, unknown>[] = [];
  for (const [i, [method, params]] of calls.entries()) out.push(await roundTrip(socket, { jsonrpc: '2.0', id: i + 1, method, params }));
  child.proc.kill('SIGTERM');
  assert.equal(await child.exited, 0, child.stderr);
  return out;
}

test('this install has at least one SQLite binding for the built-in store', () => {
  assert.ok(available.length > 0, `neither node:sqlite (${process.version}) nor better-sqlite3 is available`);
});

test('--store-binding takes auto, node:sqlite or better-sqlite3 and nothing else', () => {
  assert.equal(resolveConfig({}, {}).storeBinding, 'auto');
  assert.throws(() => resolveConfig({ storeBinding: 'sqlite3' as 'auto' }, {}), (e: unknown) => e instanceof ConfigError && /--store-binding/.test(e.message));
  // A named binding is a bad option where there is no built-in store to use it.
  assert.throws(() => resolveConfig({ storeBinding: 'better-sqlite3', dispatch: '/srv/mod.js' }, {}), (e: unknown) => e instanceof ConfigError && /--dispatch/.test(e.message));
  assert.equal(resolveConfig({ storeBinding: 'auto', dispatch: '/srv/mod.js' }, {}).storeBinding, 'auto');
});

test('a named binding this Node or install lacks is a bad option, named; one it has is taken', () => {
  for (const binding of ['node:sqlite', 'better-sqlite3'] as const) {
    const installed = binding === 'node:sqlite' ? hasNodeSqlite : isInstalled('better-sqlite3');
    if (installed) assert.equal(resolveConfig({}, { DISPATCHD_STORE_BINDING: binding }).storeBinding, binding);
    else assert.throws(() => resolveConfig({}, { DISPATCHD_STORE_BINDING: binding }), (e: unknown) => e instanceof ConfigError && e.message.includes(binding));
  }
});

for (const binding of available) {
  test(`the built-in store on ${binding}: capture, recall and stats name the binding`, async (t) => {
    const home = tempDir(t);
    const [cap, rec, stats] = await serveAndCall(t, home, binding, [
      ['memory_capture', { text: 'rotate the vault key on friday', tags: ['ops'] }],
      ['memory_recall', { cue: 'vault key' }],
      ['memory_stats', {}],
    ]);
    assert.equal(typeof (cap?.result as { id?: unknown })?.id, 'number', JSON.stringify(cap));
    assert.equal((rec?.result as { hits: { text: string }[] } | undefined)?.hits[0]?.text, 'rotate the vault key on friday', JSON.stringify(rec));
    assert.equal((stats?.result as { sqlite?: unknown })?.sqlite, binding);
  });
}

// Where this Node and install have both bindings (Node 22+ with the optional better-sqlite3), in both orders.
for (const [a, b] of available.length === 2 ? [available, [...available].reverse()] as [string, string][] : []) {
  test(`one store file serves both bindings: what ${a} acknowledged, ${b} recalls`, async (t) => {
  const home = tempDir(t);
  await serveAndCall(t, home, a, [['memory_capture', { text: `written by ${a}` }]]);
  const [cap, rec, stats] = await serveAndCall(t, home, b, [
    ['memory_capture', { text: `written by ${b}` }],
    ['memory_recall', { cue: 'written', limit: 10 }],
    ['memory_stats', {}],
  ]);
  assert.ok(cap?.result !== undefined, JSON.stringify(cap));
  assert.deepEqual(((rec?.result as { hits: { text: string }[] } | undefined)?.hits ?? []).map((r) => r.text).sort(), [`written by ${a}`, `written by ${b}`].sort());
  assert.equal((stats?.result as { count?: unknown })?.count, 2);
  });
}

// Node 20 has no node:sqlite: asking for it is a usage error (exit 2), not a fallback.
for (const missing of hasNodeSqlite ? [] : ['node:sqlite']) {
  test(`serve --store-binding ${missing} where this Node lacks it exits 2 and names it`, async (t) => {
  const home = tempDir(t);
  const child = spawnDaemon(t, ['serve', '--home', home, '--log-level', 'warn', '--store-binding', missing]);
  const { code } = await exitWithin(child, 30_000);
  assert.equal(code, 2, child.stderr);
  assert.match(child.stderr, /no node:sqlite/);
  });
}

// The same page cache on both: node:sqlite is built with SQLite's 2 MiB default, better-sqlite3 with
// 16 MiB, and recall over 20 000 memories ran 1.5x slower on the smaller one (bench store, Node 26);
// 8 MiB recalls as fast as 16 and bounds what each thread keeps.
for (const binding of available) {
  test(`a store opened on ${binding} has an 8 MB page cache`, (t) => {
    const path = join(tempDir(t), 'store.db');
    writeFileSync(path, '', { mode: 0o600 });
    const db = openStore(path, binding as Binding, 1000);
    onTeardown(t, () => db.close());
    assert.equal(pragma(db, 'cache_size'), -8_000);
  });
}
