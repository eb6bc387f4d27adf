/**
 * The client-side line readers, measured in memory (no socket, no daemon):
 * split2, as the library's Client used it, against `LineReader`
 * (src/client/lines.ts, the server's framer), on the two shapes a client
 * meets — one long reply arriving in socket-sized chunks, and many small
 * replies packed into chunks — plus the by-hand string reader the bench's
 * load connection had, for the small lines a load run lives on.
 *
 *     node dist/bench/client-lines.js [--repeats 5] [--long-mib 16] [--chunk-kib 64] [--small 200000]
 *
 * Prints, per shape and reader, the median and worst wall time of the
 * repeats (readers alternate within each repeat), and checks that every
 * reader saw the same lines.
 */
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import split2 from 'split2';
import { LineReader } from '../src/client/lines.js';

/** What a reader saw: lines and their total length, to check the readers agree. */
interface Seen {
  lines: number;
  chars: number;
}

type Reader = (chunks: readonly Buffer[]) => Promise<Seen>;

const viaSplit2: Reader = (chunks) =>
  new Promise((resolve) => {
    const seen: Seen = { lines: 0, chars: 0 };
    const s = split2();
    s.on('data', (line: string) => {
      seen.lines++;
      seen.chars += line.length;
    });
    s.on('end', () => resolve(seen));
    for (const c of chunks) s.write(c);
    s.end();
  });

const viaLineReader: Reader = (chunks) => {
  const seen: Seen = { lines: 0, chars: 0 };
  const r = new LineReader((line) => {
    seen.lines++;
    seen.chars += line.length;
  });
  for (const c of chunks) r.write(c);
  r.end();
  return Promise.resolve(seen);
};

// The reader bench/load.ts had: a socket in utf8 mode, the unfinished line kept as a string.
const viaStrings: Reader = (chunks) => {
  const seen: Seen = { lines: 0, chars: 0 };
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for (const c of chunks) {
    const buf = rest + decoder.write(c);
    let at = 0;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n', at)) {
      const line = buf.slice(at, i);
      at = i + 1;
      seen.lines++;
      seen.chars += line.length;
    }
    rest = buf.slice(at);
  }
  return Promise.resolve(seen);
};

const READERS: readonly (readonly [string, Reader])[] = [
  ['split2', viaSplit2],
  ['LineReader', viaLineReader],
  ['by hand (strings)', viaStrings],
];

/** `bytes` cut into chunks of `size`. */
function chunked(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

/** One reply line of `bytes` bytes in all (its `\n` included), shaped like a result holding one long string. */
function longReply(bytes: number): Buffer {
  const head = '{"jsonrpc":"2.0","id":1,"result":"';
  const tail = '"}\n';
  return Buffer.from(`${head}${'x'.repeat(bytes - head.length - tail.length)}${tail}`);
}

/** `n` small reply lines, as dispatchd writes them. */
function smallReplies(n: number): Buffer {
  const parts: string[] = [];
  for (let id = 1; id <= n; id++) parts.push(`{"jsonrpc":"2.0","id":${id},"result":{"echo":"hello","n":${id}}}\n`);
  return Buffer.from(parts.join(''));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function measure(name: string, chunks: readonly Buffer[], repeats: number): Promise<void> {
  const times = new Map<string, number[]>(READERS.map(([r]) => [r, []]));
  let expected: Seen | undefined;
  for (let i = 0; i < repeats; i++) {
    for (const [reader, read] of i % 2 === 0 ? READERS : [...READERS].reverse()) {
      const t0 = performance.now();
      const seen = await read(chunks);
      times.get(reader)?.push(performance.now() - t0);
      expected ??= seen;
      if (seen.lines !== expected.lines || seen.chars !== expected.chars) throw new Error(`${reader} saw ${JSON.stringify(seen)}, others ${JSON.stringify(expected)}`);
    }
  }
  for (const [reader, ms] of times) {
    console.log(`${name.padEnd(44)} ${reader.padEnd(18)} median ${median(ms).toFixed(1).padStart(8)} ms   worst ${Math.max(...ms).toFixed(1).padStart(8)} ms`);
  }
}

async function main(): Promise<void> {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const repeats = arg('--repeats', 5);
  const longMiB = arg('--long-mib', 16);
  const chunkKiB = arg('--chunk-kib', 64);
  const small = arg('--small', 200_000);
  console.log(`node ${process.version}; ${repeats} repeats, readers alternating`);
  await measure(`one ${longMiB} MiB line in ${chunkKiB} KiB chunks`, chunked(longReply(longMiB * 1024 * 1024), chunkKiB * 1024), repeats);
  const replies = smallReplies(small);
  await measure(`${small} small lines (${(replies.length / 1024 / 1024).toFixed(1)} MiB) in ${chunkKiB} KiB chunks`, chunked(replies, chunkKiB * 1024), repeats);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
