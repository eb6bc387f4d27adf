/**
 * The `status` reply's three descriptions agree: the `StatusReply` type
 * (through `STATUS_FIELDS`, which the compiler holds to it), the tables of
 * docs/protocol.md ("status"), and what a real daemon answers — every
 * documented field is in the reply and every field of the reply is
 * documented, part by part.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlane } from '../src/lifecycle/control.js';
import { StateStore } from '../src/lifecycle/state.js';
import { STATUS_FIELDS } from '../src/lifecycle/status-reply.js';
import { roundTrip, rpc, sleep, startDaemon, tmpHome } from './helper.js';
import { status } from './status.js';

/** A table of keys: `true` for a leaf, a nested table for a part. */
type Tree = { readonly [key: string]: true | Tree };
/** Part path (`''` for the reply itself, `pool.lanes.methods` for a list's elements) → its sorted keys. */
type Parts = Map<string, string[]>;

const at = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

function partsOf(fields: Tree, path = '', out: Parts = new Map()): Parts {
  out.set(path, Object.keys(fields).sort());
  for (const [key, sub] of Object.entries(fields)) if (sub !== true) partsOf(sub, at(path, key), out);
  return out;
}

/** The tables under docs/protocol.md's "### status": a `####` heading names its parts in code spans (none: the reply). */
function documented(): Parts {
  const md = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const from = md.indexOf('\n### status\n');
  assert.ok(from >= 0, 'docs/protocol.md has a status section');
  const section = md.slice(from + 1, md.indexOf('\n## ', from));
  const out: Parts = new Map();
  let paths: string[] = [];
  for (const line of section.split('\n')) {
    if (line.startsWith('#### ')) {
      const named = [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
      paths = named.length > 0 ? named : [''];
      for (const p of paths) out.set(p, []);
      continue;
    }
    const field = /^\| `([^`]+)` \|/.exec(line)?.[1];
    if (field !== undefined) for (const p of paths) out.get(p)?.push(field);
  }
  for (const [p, keys] of out) out.set(p, keys.sort());
  return out;
}

/** The keys of each part a reply holds, following `fields`; a null part or an empty list is reported absent. */
function replyParts(value: Record<string, unknown>, fields: Tree, path: string, out: Parts, absent: string[]): void {
  out.set(path, Object.keys(value).sort());
  for (const [key, sub] of Object.entries(fields)) {
    if (sub === true) continue;
    const v = value[key];
    if (v === null || (Array.isArray(v) && v.length === 0)) absent.push(at(path, key));
    else if (Array.isArray(v)) {
      for (const element of v) {
        replyParts(element as Record<string, unknown>, sub, at(path, key), out, absent);
        assert.deepEqual(out.get(at(path, key)), Object.keys(element as object).sort(), `every element of ${at(path, key)} has the same keys`);
      }
    } else replyParts(v as Record<string, unknown>, sub, at(path, key), out, absent);
  }
}

const table = partsOf(STATUS_FIELDS);

test('docs/protocol.md documents exactly the fields of StatusReply, part by part', () => {
  assert.deepEqual(Object.fromEntries(documented()), Object.fromEntries(table));
});

test("a real daemon's status has exactly the documented fields, every part filled in", async (t) => {
  const d = await startDaemon({ tickMs: 50, idleMs: 3_600_000, sleepEveryMs: 3_600_000, sleepCycles: 1 });
  t.after(() => d.close());
  // A call gives pool.lanes.methods an element; a sleep gives scheduler.last_cycle a value.
  assert.deepEqual((await roundTrip(d.socket, rpc(1, 'echo', ['hi']))).result, ['hi']);
  assert.equal((await roundTrip(d.socket, { type: 'user_initiated_sleep', reason: 'status fields', ts: 't' })).ok, true);
  const t0 = Date.now();
  while ((await status(d.socket)).scheduler.last_cycle === null) {
    assert.ok(Date.now() - t0 < 10_000, 'a maintenance cycle ran within 10 s');
    await sleep(20);
  }
  const reply = await roundTrip(d.socket, { type: 'status' });
  const seen: Parts = new Map();
  const absent: string[] = [];
  replyParts(reply, STATUS_FIELDS, '', seen, absent);
  // The state of a fresh home holds no digest: its part is checked on a control plane below.
  assert.deepEqual(absent, ['pending_digest']);
  assert.deepEqual(Object.fromEntries(seen), Object.fromEntries([...table].filter(([p]) => p !== 'pending_digest')));

  const { dir, cleanup } = tmpHome();
  t.after(cleanup);
  const plane = new ControlPlane({
    state: new StateStore(join(dir, 'state.json'), { others: {}, pending_digest: {} }),
    firstTurn: { firstTurnTtlMs: 1000, firstTurnMax: 10, firstTurnMaxBytes: 4096 },
    version: 'v',
    metrics: () => ({}),
  });
  assert.deepEqual(Object.keys(plane.status().pending_digest ?? {}).sort(), table.get('pending_digest'));
});
