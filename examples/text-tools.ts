/**
 * An example dispatch module: small text tools and one deliberately slow
 * method. Compile it with tsc (module NodeNext), then serve it:
 *
 *   dispatchd serve --dispatch ./text-tools.js
 *   dispatchd call word_count '{"text":"to be or not to be"}'
 *   dispatchd call primes_below '{"n":1000000}'
 *
 * Module scope is per worker thread: the cache below is one per worker, so
 * it only ever holds what that worker computed.
 */
import { InvalidParamsError, MethodNotFoundError, requireParam, type Lane } from 'dispatchd';

/** Declared lanes: the cheap methods never wait behind primes_below. */
export const lanes: Record<string, Lane> = { word_count: 'fast', slugify: 'fast', primes_below: 'slow' };

const primeCounts = new Map<number, number>();

function text(params: unknown): string {
  const t = requireParam(params, 'text'); // missing → -32602 missing required param: 'text'
  if (typeof t !== 'string') throw new InvalidParamsError("'text' must be a string");
  return t;
}

function countPrimesBelow(n: number): number {
  const sieve = new Uint8Array(n);
  let count = 0;
  for (let i = 2; i < n; i++) {
    if (sieve[i]) continue;
    count++;
    for (let j = i * i; j < n; j += i) sieve[j] = 1;
  }
  return count;
}

export function dispatch(method: string, params: unknown): unknown {
  switch (method) {
    case 'word_count': {
      const words = text(params).toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
      const counts: Record<string, number> = {};
      for (const w of words) counts[w] = (counts[w] ?? 0) + 1;
      return { words: words.length, distinct: Object.keys(counts).length, counts };
    }
    case 'slugify':
      return text(params)
        .normalize('NFKD')
        .replace(/[\u0300-\u036f]/g, '')
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '');
    case 'primes_below': {
      const n = requireParam(params, 'n');
      if (!Number.isInteger(n) || (n as number) < 2 || (n as number) > 50_000_000) throw new InvalidParamsError("'n' must be an integer from 2 to 50000000");
      const cached = primeCounts.get(n as number);
      const count = cached ?? countPrimesBelow(n as number); // slow and synchronous is fine: this is a worker thread
      if (cached === undefined) primeCounts.set(n as number, count);
      return { n, count, cached: cached !== undefined };
    }
    default:
      throw new MethodNotFoundError(method); // -32601 unknown method '<name>'
  }
}

/** A maintenance cycle (force_rem, idle sleep): drop this worker's cache. */
export function maintain(): unknown {
  const dropped = primeCounts.size;
  primeCounts.clear();
  return { dropped };
}
