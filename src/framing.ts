/**
 * Bytes → lines. Owns `\n` framing (via split2), the line-length limit and
 * UTF-8 validity; knows nothing about JSON or JSON-RPC.
 *
 * Each input line yields exactly one frame, in order:
 *   {kind:'line', text}   a complete line (CRLF accepted; blank lines dropped)
 *   {kind:'too_long'}     a line over the limit — reported as soon as it
 *                         passes the limit, and skipped through its `\n`
 *   {kind:'invalid_utf8'} a line holding bytes that are not UTF-8
 */
import { isUtf8 } from 'node:buffer';
import split2 from 'split2';
import type { Transform } from 'node:stream';

export type Frame =
  | { readonly kind: 'line'; readonly text: string }
  | { readonly kind: 'too_long' }
  | { readonly kind: 'invalid_utf8' };

const TOO_LONG: Frame = Object.freeze({ kind: 'too_long' });
const INVALID_UTF8: Frame = Object.freeze({ kind: 'invalid_utf8' });
// Stands in for a line whose bytes were not UTF-8; it can't be valid JSON.
const BROKEN = '\u0000\uffffinvalid-utf8';
const NEWLINE = 0x0a;
const EMPTY = new Uint8Array(0);

/** Bytes at the end of `buf` that start a UTF-8 sequence not yet complete. */
export function incompleteTail(buf: Uint8Array): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = buf[n - back] as number;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    // Only real lead bytes start a sequence; 0xC0, 0xC1 and 0xF5+ never do.
    const need = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

function isBlank(line: string): boolean {
  if (line.length === 0) return true;
  const c = line.charCodeAt(0);
  // Only lines that start with JSON whitespace can be blank; skip the scan otherwise.
  return (c === 0x20 || c === 0x09 || c === 0x0d) && /^[ \t\r]*$/.test(line);
}

/**
 * Splits a byte stream into frames. `write` bytes, `end` at EOF; frames go to
 * `onFrame` in order. `pause`/`resume` hold delivery (for backpressure).
 */
export class LineFramer {
  readonly #maxBytes: number;
  readonly #splitter: Transform;
  #decoder = new TextDecoder('utf-8', { fatal: true });
  #carry: Uint8Array = EMPTY;
  // The current line had bad bytes; its sentinel is written, drop the rest.
  #lineBroken = false;
  #overflow = false;
  // BROKEN markers written but not yet seen by #toFrame.
  #brokenPending = 0;

  constructor(maxBytes: number, onFrame: (frame: Frame) => void, onEnd: () => void) {
    this.#maxBytes = maxBytes;
    // skipOverflow is in split2 4.x but not in @types/split2.
    const options = { maxLength: maxBytes, skipOverflow: true, decodeStrings: false };
    const splitter = split2(/\r?\n/, (line: string) => this.#toFrame(line), options as split2.Options) as Transform;
    // split2 drops an over-long unfinished line silently; watching its flag
    // lets us answer that line once, as soon as it passes the limit.
    Object.defineProperty(splitter, 'overflow', {
      get: () => this.#overflow,
      set: (v: boolean) => {
        if (v && !this.#overflow) splitter.push(TOO_LONG);
        this.#overflow = v;
      },
    });
    splitter.on('data', onFrame);
    splitter.on('end', onEnd);
    this.#splitter = splitter;
  }

  #toFrame(line: string): Frame | undefined {
    // At EOF split2 flushes the tail of a line already answered as too long.
    if (this.#overflow) return undefined;
    if (this.#brokenPending > 0 && line.includes(BROKEN)) {
      this.#brokenPending--;
      return INVALID_UTF8;
    }
    if (line.length > this.#maxBytes) return TOO_LONG;
    if (line.length * 3 > this.#maxBytes && Buffer.byteLength(line) > this.#maxBytes) return TOO_LONG;
    if (isBlank(line)) return undefined;
    return { kind: 'line', text: line };
  }

  /** Feeds raw bytes. */
  write(chunk: Buffer): void {
    if (!this.#lineBroken) {
      try {
        const text = this.#decoder.decode(chunk, { stream: true });
        this.#carry = this.#tailOf(chunk);
        if (text.length > 0) this.#splitter.write(text);
        return;
      } catch {
        // Not UTF-8 somewhere in this chunk: find the line(s) at fault below.
      }
    }
    this.#writeSlow(chunk);
  }

  #tailOf(chunk: Buffer): Uint8Array {
    const joined = chunk.length >= 4 ? chunk : Buffer.concat([this.#carry, chunk]);
    const n = incompleteTail(joined);
    return n === 0 ? EMPTY : Uint8Array.prototype.slice.call(joined, joined.length - n);
  }

  // Line by line: a line with bad bytes becomes one BROKEN line; others pass.
  #writeSlow(chunk: Buffer): void {
    const data = this.#carry.length > 0 ? Buffer.concat([this.#carry, chunk]) : chunk;
    this.#carry = EMPTY;
    this.#decoder = new TextDecoder('utf-8', { fatal: true });
    let start = 0;
    while (start < data.length) {
      const nl = data.indexOf(NEWLINE, start);
      const end = nl === -1 ? data.length : nl;
      let seg = data.subarray(start, end);
      let tail: Uint8Array | null = null;
      if (nl === -1) {
        const n = incompleteTail(seg);
        if (n > 0) {
          tail = seg.subarray(seg.length - n);
          seg = seg.subarray(0, seg.length - n);
        }
      }
      if (!this.#lineBroken) {
        if (isUtf8(seg)) {
          if (seg.length > 0) this.#splitter.write(seg.toString('utf8'));
        } else {
          this.#markBroken();
          this.#lineBroken = true;
        }
      }
      if (nl === -1) {
        if (tail !== null && !this.#lineBroken) {
          try {
            this.#decoder.decode(tail, { stream: true });
            this.#carry = Uint8Array.prototype.slice.call(tail);
          } catch {
            this.#markBroken();
            this.#lineBroken = true;
          }
        }
        return;
      }
      this.#splitter.write('\n');
      this.#lineBroken = false;
      start = nl + 1;
    }
  }

  #markBroken(): void {
    this.#brokenPending++;
    this.#splitter.write(BROKEN);
  }

  /** EOF: a last line without `\n` still counts. */
  end(): void {
    if (!this.#lineBroken) {
      try {
        const rest = this.#decoder.decode();
        if (rest.length > 0) this.#splitter.write(rest);
      } catch {
        // An unfinished multi-byte character at EOF makes the last line invalid.
        this.#markBroken();
      }
    }
    this.#splitter.end();
  }

  pause(): void {
    this.#splitter.pause();
  }

  resume(): void {
    this.#splitter.resume();
  }

  destroy(): void {
    this.#splitter.destroy();
  }
}
