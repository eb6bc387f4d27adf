/**
 * The store scenario (not in the default run): the built-in memory store
 * with N records (default 100k): capture and recall calls/s with 1 and 16
 * connections, and recall latency percentiles.
 */
import { closedLoop, type ClosedLoopResult } from './load.js';
import { startDispatchd } from './procs.js';
import type { Progress } from './types.js';

export interface StoreRow {
  readonly method: string;
  readonly connections: number;
  readonly result: ClosedLoopResult;
}

export interface StoreResult {
  readonly records: number;
  readonly populateSeconds: number;
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

export async function store(o: { records: number; ms: number }, progress: Progress): Promise<StoreResult> {
  const d = await startDispatchd([], null);
  try {
    const t0 = Date.now();
    let made = 0;
    // Populate through the socket, pipelined, as clients would.
    while (made < o.records) {
      const r = await closedLoop(d.socket, { connections: 16, pipeline: 32, ms: 1000, method: 'memory_capture', params: () => ({ text: sentence(12), tags: [word()] }) });
      made += r.calls;
      progress(`store: populating ${o.records} records`, made / o.records);
    }
    const populateSeconds = Math.round((Date.now() - t0) / 100) / 10;
    const rows: StoreRow[] = [];
    for (const [method, params] of [
      ['memory_capture', () => ({ text: sentence(12), tags: [word()] })],
      ['memory_recall', () => ({ cue: `${word()} ${word()}`, limit: 10 })],
    ] as const) {
      for (const connections of [1, 16]) {
        const label = `store: ${method} C=${connections}`;
        rows.push({ method, connections, result: await closedLoop(d.socket, { connections, pipeline: 1, ms: o.ms, method, params, onTick: (f) => progress(label, f) }) });
      }
    }
    return { records: made, populateSeconds, rows };
  } finally {
    await d.stop();
  }
}
