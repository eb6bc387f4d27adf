/**
 * The store scenario (not in the default run): the built-in memory store
 * with N records (default 100k): capture and recall calls/s with 1 and 16
 * connections, and recall latency percentiles — on each SQLite binding this
 * Node and install have (node:sqlite, better-sqlite3), one daemon each,
 * populated alike, the rows measured alternately so noise hits both.
 */
import { sqliteBindings, type SqliteBinding } from './bindings.js';
import { closedLoop, type ClosedLoopResult } from './load.js';
import { startDispatchd, type Proc } from './procs.js';
import type { Progress } from './types.js';

export interface StoreRow {
  /** `--store-binding` of the daemon measured. */
  readonly binding: SqliteBinding;
  readonly method: string;
  readonly connections: number;
  readonly result: ClosedLoopResult;
}

export interface StoreResult {
  readonly records: number;
  /** Seconds to populate each binding's store through the socket. */
  readonly populateSeconds: Readonly<Partial<Record<SqliteBinding, number>>>;
  readonly rows: StoreRow[];
}

// A fixed pseudo-random vocabulary, so runs are comparable.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}
const rand = rng(42);
const VOCAB = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}${'aeiou'[i % 5]}`);
const word = (): string => VOCAB[Math.floor(rand() ** 2 * VOCAB.length)] as string; // skewed, like real text
const sentence = (n: number): string => Array.from({ length: n }, word).join(' ');

/** Populates `d`'s store with `records` captures through the socket, pipelined, as clients would. */
async function populate(d: Proc, records: number, label: string, progress: Progress): Promise<{ made: number; seconds: number }> {
  const t0 = Date.now();
  let made = 0;
  while (made < records) {
    const r = await closedLoop(d.socket, { connections: 16, pipeline: 32, ms: 1000, method: 'memory_capture', params: () => ({ text: sentence(12), tags: [word()] }) });
    made += r.calls;
    progress(label, made / records);
  }
  return { made, seconds: Math.round((Date.now() - t0) / 100) / 10 };
}

export async function store(o: { records: number; ms: number }, progress: Progress): Promise<StoreResult> {
  const bindings = sqliteBindings();
  if (bindings.length === 0) throw new Error(`no SQLite binding for the built-in store under ${process.version}`);
  const daemons = new Map<SqliteBinding, Proc>();
  try {
    for (const b of bindings) daemons.set(b, await startDispatchd(['--store-binding', b], null));
    const populateSeconds: Partial<Record<SqliteBinding, number>> = {};
    let records = Number.POSITIVE_INFINITY;
    for (const [b, d] of daemons) {
      const p = await populate(d, o.records, `store: populating ${o.records} records (${b})`, progress);
      populateSeconds[b] = p.seconds;
      records = Math.min(records, p.made);
    }
    const rows: StoreRow[] = [];
    for (const [method, params] of [
      ['memory_capture', () => ({ text: sentence(12), tags: [word()] })],
      ['memory_recall', () => ({ cue: `${word()} ${word()}`, limit: 10 })],
    ] as const) {
      for (const connections of [1, 16]) {
        for (const [binding, d] of daemons) {
          const label = `store: ${method} C=${connections} (${binding})`;
          rows.push({ binding, method, connections, result: await closedLoop(d.socket, { connections, pipeline: 1, ms: o.ms, method, params, onTick: (f) => progress(label, f) }) });
        }
      }
    }
    return { records, populateSeconds, rows };
  } finally {
    for (const d of daemons.values()) await d.stop();
  }
}

/** The markdown section: each row per binding, and each binding ÷ the default one (the first). */
export function storeMarkdown(r: StoreResult): string[] {
  const bindings = [...new Set(r.rows.map((x) => x.binding))];
  const first = bindings[0];
  const lines = [
    `## store — the built-in store with ${r.records} records, by SQLite binding`,
    '',
    `Populated through the socket in ${bindings.map((b) => `${r.populateSeconds[b] ?? '—'} s (${b})`).join(', ')}; rows measured alternately.`,
    '',
    '| method | C | binding | calls/s | ÷ default | p50 ms | p99 ms | errors |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const row of r.rows) {
    const base = r.rows.find((x) => x.binding === first && x.method === row.method && x.connections === row.connections);
    const vs = base === undefined || base.result.callsPerSec === 0 ? '—' : `${Math.round((row.result.callsPerSec / base.result.callsPerSec) * 100) / 100}×`;
    lines.push(`| ${row.method} | ${row.connections} | ${row.binding}${row.binding === first ? ' (default)' : ''} | ${row.result.callsPerSec} | ${vs} | ${row.result.latency.p50} | ${row.result.latency.p99} | ${row.result.errors + row.result.lost} |`);
  }
  lines.push('');
  return lines;
}
