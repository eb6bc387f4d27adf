/**
 * Worst-case single lines (part of the abuse scenario): each shape built at
 * about 1 MiB and sent alone to dispatchd (its own process, default
 * options), five times. Per line: the main thread's CPU time spent on it
 * (Linux schedstat of the daemon's main thread, in a run with nothing else
 * going on), the worst `status` round trip on another connection while it
 * is processed (a second run, probing back to back), the event-loop delay
 * the daemon itself reports — medians, and the worst — the answer's size,
 * and whether every id came back byte for byte. Then 1000 calls with
 * distinct 1 MB method names, and 5000 with distinct 256-byte ones (the
 * longest accepted): RSS before and after, and the size of a `status` reply.
 */
import { createConnection, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { LineReader } from '../src/client/lines.js';
import { rssMiB, startDispatchd } from './procs.js';
import type { Progress } from './types.js';

export interface LineResult {
  readonly name: string;
  readonly lineBytes: number;
  readonly answerBytes: number;
  /** Main-thread CPU time while the line was read, parsed, routed and answered (median of the repeats). */
  readonly busyMs: number | null;
  readonly busyWorstMs: number | null;
  /** Worst status round trip on another connection meanwhile (median over the repeats of each one's worst). */
  readonly probeMaxMs: number;
  readonly probeWorstMs: number;
  /** The daemon's own event_loop.delay_max_ms over the line (median). */
  readonly loopDelayMaxMs: number | null;
  /** Every id the line carried came back byte for byte (null: the line has no ids to check). */
  readonly idsVerbatim: boolean | null;
}

export interface NamesResult {
  readonly calls: number;
  readonly nameBytes: number;
  readonly rssBeforeMiB: number | null;
  readonly rssAfterMiB: number | null;
  readonly statusBytes: number;
  readonly seconds: number;
}

export interface LinesResult {
  readonly lines: LineResult[];
  readonly names: NamesResult;
  readonly accepted: NamesResult;
}

const MiB = 1024 * 1024;

/** A batch of `unit(i)` elements, as many as fit in about 1 MiB. */
function fill(unit: (i: number) => string, bytes = MiB): string {
  const parts: string[] = [];
  let size = 2;
  for (let i = 0; size < bytes - 200; i++) {
    const u = unit(i);
    parts.push(u);
    size += u.length + 1;
  }
  return `[${parts.join(',')}]`;
}

const NON_SAFE = ['0.5', '1e3', '12345678901234567890'];
const FORMS = ['18446744073709551617', '-0', '1.0', '1E2', '1e-400', '0.5', '1e3', '-1.50e-07', '"\\u0041"'];

interface Shape {
  readonly name: string;
  readonly line: string;
  readonly ids: readonly string[] | null;
}

function shapes(): Shape[] {
  // 1000 calls (the batch limit) padded so the line is about 1 MiB: the largest batch that runs.
  const pad = 'x'.repeat(Math.floor(MiB / 1000) - 120);
  const nonSafe = Array.from({ length: 1000 }, (_, i) => NON_SAFE[i % NON_SAFE.length] as string);
  const forms = Array.from({ length: 1000 }, (_, i) => FORMS[i % FORMS.length] as string);
  return [
    { name: 'batch, 1000 calls, ids not safe integers (0.5, 1e3, 20 digits)', line: `[${nonSafe.map((id) => `{"jsonrpc":"2.0","id":${id},"method":"echo","params":{"p":"${pad}"}}`).join(',')}]`, ids: nonSafe },
    { name: 'batch, 1000 calls, every id form, duplicate keys in each', line: `[${forms.map((id) => `{"jsonrpc":"2.0","id":"x","method":"echo","params":{"a":1,"a":"${pad}"},"k":0,"k":1,"id":${id}}`).join(',')}]`, ids: forms },
    { name: 'batch of ids not safe integers, ~25k elements (over the batch limit)', line: fill((i) => `{"jsonrpc":"2.0","id":${NON_SAFE[i % 3]},"method":"echo"}`), ids: null },
    { name: '[0,0,0,…] (~500k elements)', line: fill(() => '0'), ids: null },
    { name: 'one call, ~1 MB method name', line: `{"jsonrpc":"2.0","id":7,"method":"${'m'.repeat(MiB - 60)}"}`, ids: ['7'] },
    { name: 'one call, params 10k deep', line: `{"jsonrpc":"2.0","id":8,"method":"echo","params":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, ids: null },
    { name: 'one line 512k deep ([[[…]]], 1 MiB)', line: `${'['.repeat(MiB / 2)}${']'.repeat(MiB / 2)}`, ids: null },
    { name: 'one call, a 1 MiB string of \\u escapes', line: `{"jsonrpc":"2.0","id":9,"method":"echo","params":["${'\\u00e9'.repeat(Math.floor((MiB - 80) / 6))}"]}`, ids: ['9'] },
    { name: 'one call, params with 100k keys', line: `{"jsonrpc":"2.0","id":10,"method":"echo","params":{${Array.from({ length: 100_000 }, (_, i) => `"${i.toString(36)}":0`).join(',')}}}`, ids: ['10'] },
    { name: 'one call, a 1 MiB-digit id', line: `{"jsonrpc":"2.0","id":1${'7'.repeat(MiB - 60)},"method":"echo"}`, ids: [`1${'7'.repeat(MiB - 60)}`] },
    { name: 'one call, 1 MiB of params that is not JSON at its very end', line: `{"jsonrpc":"2.0","id":11,"method":"echo","params":${fill(() => '{"a":[1,2.5,"x"]}').slice(0, -1)}x}`, ids: null },
    { name: 'batch, 1000 control messages (status)', line: `[${Array(1000).fill('{"type":"status"}').join(',')}]`, ids: null },
  ];
}

/** The CPU time (ns) the daemon's main thread has used: first field of its schedstat. */
function mainThreadNs(pid: number): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}

/** A connection that reads whole lines. */
class Lines {
  readonly #s: Socket;
  #waiter: ((line: string) => void) | null = null;
  #queue: string[] = [];

  private constructor(s: Socket) {
    this.#s = s;
    const lines = new LineReader((line) => {
      const w = this.#waiter;
      this.#waiter = null;
      if (w) w(line);
      else this.#queue.push(line);
    });
    s.on('data', (d: Buffer) => lines.write(d));
    s.on('error', () => {});
  }

  static open(path: string): Promise<Lines> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new Lines(s)));
      s.once('error', reject);
    });
  }

  /** Sends one line and resolves with the next answer. */
  ask(line: string): Promise<string> {
    const p = new Promise<string>((resolve) => {
      const queued = this.#queue.shift();
      if (queued !== undefined) resolve(queued);
      else this.#waiter = resolve;
    });
    this.#s.write(`${line}\n`);
    return p;
  }

  close(): void {
    this.#s.destroy();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function statusDelayMax(probe: Lines): Promise<number | null> {
  const s = JSON.parse(await probe.ask('{"type":"status"}')) as { event_loop?: { delay_max_ms?: number } };
  return s.event_loop?.delay_max_ms ?? null;
}

/** Each line is measured this many times; the figures are medians, with the worst kept too. */
const REPEATS = 5;

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};
const round2 = (x: number): number => Math.round(x * 100) / 100;

async function measure(socket: string, pid: number, shape: Shape): Promise<LineResult> {
  const sender = await Lines.open(socket);
  const probe = await Lines.open(socket);
  try {
    const busy: number[] = [];
    const delays: number[] = [];
    const probes: number[] = [];
    let answer = '';
    let idsVerbatim: boolean | null = shape.ids === null ? null : true;
    for (let r = 0; r < REPEATS; r++) {
      // Alone: the main thread's CPU time for this line, and the loop delay the daemon saw.
      await statusDelayMax(probe); // opens the event-loop window
      await sleep(50);
      const cpu0 = mainThreadNs(pid);
      answer = await sender.ask(shape.line);
      await sleep(20); // anything the line left behind (a GC, the tail of the write)
      const cpu1 = mainThreadNs(pid);
      const delay = await statusDelayMax(probe);
      if (cpu0 !== null && cpu1 !== null) busy.push((cpu1 - cpu0) / 1e6);
      if (delay !== null) delays.push(delay);
      if (shape.ids !== null && !shape.ids.every((id) => answer.includes(`"id":${id},`))) idsVerbatim = false;
      // Again, with status probes back to back on another connection.
      let probing = true;
      let worst = 0;
      const prober = (async () => {
        while (probing) {
          const t = performance.now();
          await probe.ask('{"type":"status"}');
          worst = Math.max(worst, performance.now() - t);
        }
      })();
      await sleep(30);
      await sender.ask(shape.line);
      await sleep(30);
      probing = false;
      await prober;
      probes.push(worst);
    }
    return {
      name: shape.name,
      lineBytes: Buffer.byteLength(shape.line),
      answerBytes: Buffer.byteLength(answer),
      busyMs: busy.length > 0 ? round2(median(busy)) : null,
      busyWorstMs: busy.length > 0 ? round2(Math.max(...busy)) : null,
      probeMaxMs: round2(median(probes)),
      probeWorstMs: round2(Math.max(...probes)),
      loopDelayMaxMs: delays.length > 0 ? round2(median(delays)) : null,
      idsVerbatim,
    };
  } finally {
    sender.close();
    probe.close();
  }
}

async function distinctNames(socket: string, pid: number, calls: number, nameBytes: number, progress: Progress): Promise<NamesResult> {
  const c = await Lines.open(socket);
  try {
    await sleep(200);
    const rssBefore = rssMiB(pid);
    const t0 = performance.now();
    const body = 'n'.repeat(nameBytes - 8);
    for (let i = 0; i < calls; i++) {
      await c.ask(`{"jsonrpc":"2.0","id":${i},"method":"${String(i).padStart(8, '0')}${body}"}`);
      if (i % 50 === 0) progress(`abuse: distinct ${nameBytes}-byte method names`, i / calls);
    }
    const seconds = Math.round((performance.now() - t0) / 10) / 100;
    await sleep(1000);
    const status = await c.ask('{"type":"status"}');
    return { calls, nameBytes, rssBeforeMiB: rssBefore, rssAfterMiB: rssMiB(pid), statusBytes: Buffer.byteLength(status), seconds };
  } finally {
    c.close();
  }
}

/**
 * Runs every worst-case line, then the distinct-names runs, on a fresh
 * daemon: 1000 names of 1 MB (refused at the edge), then 5000 names at the
 * longest accepted length (they reach the pool and its per-method tables).
 */
export async function worstLines(progress: Progress): Promise<LinesResult> {
  const d = await startDispatchd();
  try {
    const lines: LineResult[] = [];
    const all = shapes();
    for (const [i, shape] of all.entries()) {
      progress(`abuse: ${shape.name}`, i / all.length);
      lines.push(await measure(d.socket, d.pid, shape));
    }
    const names = await distinctNames(d.socket, d.pid, 1000, 1_000_000, progress);
    const accepted = await distinctNames(d.socket, d.pid, 5000, 256, progress);
    return { lines, names, accepted };
  } finally {
    await d.stop();
  }
}
