/**
 * Bytes → lines. Owns `\n` framing, the line-length limit and UTF-8
 * validity; knows nothing about JSON or JSON-RPC.
 *
 * Each input line yields exactly one frame, in order:
 *   {kind:'line', text}   a complete line (CRLF accepted; a leading UTF-8 BOM
 *                         dropped; blank lines dropped)
 *   {kind:'too_long', head} a line over the limit — reported as soon as it
 *                         passes the limit, and skipped through its `\n`;
 *                         `head` is its first bytes up to the limit, as
 *                         text (whole characters only), or null if they are
 *                         not UTF-8 — so a refusal can name an id before the cut
 *   {kind:'invalid_utf8'} a line holding bytes that are not UTF-8
 *
 * Cost is linear in the bytes: each byte is searched for `\n` once, copied
 * at most once into the unfinished-line buffer (plus its doublings), checked
 * for UTF-8 once and decoded once, however the line is chunked. (split2
 * re-splits everything buffered on every chunk, so a 1 MiB line sent in
 * small pieces costs it quadratic time; hence this small piece of our own.)
 */
import { isUtf8 } from 'node:buffer';

export type Frame =
  | { readonly kind: 'line'; readonly text: string }
  | { readonly kind: 'too_long'; readonly head: string | null }
  | { readonly kind: 'invalid_utf8' };

const INVALID_UTF8: Frame = Object.freeze({ kind: 'invalid_utf8' });
const NEWLINE = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);
/** The part of a too-long line the limit allowed, as text: cut back to a whole character. */
function headText(bytes: Buffer): string | null {
  let end = bytes.length;
  // Back over at most 3 continuation bytes to the start of the last character; drop it if incomplete.
  let k = end - 1;
  while (k >= 0 && end - k <= 4 && ((bytes[k] as number) & 0xc0) === 0x80) k--;
  if (k >= 0) {
    const lead = bytes[k] as number;
    const size = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (k + size > end) end = k;
  }
  const whole = bytes.subarray(0, end);
  if (!isUtf8(whole)) return null;
  return whole[0] === 0xef && whole[1] === 0xbb && whole[2] === 0xbf ? whole.toString('utf8', 3) : whole.toString('utf8');
}

/** An unfinished-line buffer up to this size is kept for the next line; a larger one is let go. */
const KEEP_BUFFER = 64 * 1024;

function isBlank(line: string): boolean {
  if (line.length === 0) return true;
  const c = line.charCodeAt(0);
  // Only lines that start with JSON whitespace can be blank; skip the scan otherwise.
  return (c === 0x20 || c === 0x09 || c === 0x0d) && /^[ \t\r]*$/.test(line);
}

/**
 * Splits a byte stream into frames. `write` bytes, `end` at EOF; frames go to
 * `onFrame` in order. `pause`/`resume` hold delivery (for backpressure):
 * frames found while paused wait, and are delivered after `resume`, on a
 * later turn of the event loop.
 */
export class LineFramer {
  readonly #maxBytes: number;
  readonly #onFrame: (frame: Frame) => void;
  readonly #onEnd: () => void;
  // The unfinished line's bytes, copied into one buffer that grows by
  // doubling up to the limit: a line sent a byte at a time costs its bytes,
  // not an object per byte, and a socket's chunk is not kept alive.
  #pending: Buffer = EMPTY;
  #pendingBytes = 0;
  // The current line passed the limit and was reported: drop it through its `\n`.
  #skipping = false;
  #paused = false;
  // Frames found while paused; #heldAt is the next to deliver (no O(n) shift).
  #held: Frame[] = [];
  #heldAt = 0;
  #ended = false;
  #endDelivered = false;
  #destroyed = false;
  #flushScheduled = false;

  constructor(maxBytes: number, onFrame: (frame: Frame) => void, onEnd: () => void) {
    this.#maxBytes = maxBytes;
    this.#onFrame = onFrame;
    this.#onEnd = onEnd;
  }

  /** Feeds raw bytes. */
  write(chunk: Buffer): void {
    if (this.#destroyed || this.#ended) return;
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        this.#keep(chunk.subarray(start));
        return;
      }
      if (this.#skipping) this.#skipping = false;
      else this.#line(chunk.subarray(start, nl));
      start = nl + 1;
    }
  }

  // Part of a line whose end has not arrived. A trailing `\r` may still be
  // dropped with the `\n`, so one byte over the limit is not yet too long.
  #keep(part: Buffer): void {
    if (this.#skipping || part.length === 0) return;
    if (this.#pendingBytes + part.length > this.#maxBytes + 1) {
      this.#skipping = true;
      this.#tooLong(part);
      return;
    }
    this.#append(part);
  }

  #append(part: Buffer): void {
    const need = this.#pendingBytes + part.length;
    if (need > this.#pending.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.#maxBytes + 1, Math.max(need, 2 * this.#pending.length, 4096)));
      this.#pending.copy(grown, 0, 0, this.#pendingBytes);
      this.#pending = grown;
    }
    part.copy(this.#pending, this.#pendingBytes);
    this.#pendingBytes = need;
  }

  // Forgets the unfinished line; a large buffer is let go, so an idle connection holds nothing.
  #drop(): void {
    this.#pendingBytes = 0;
    if (this.#pending.length > KEEP_BUFFER) this.#pending = EMPTY;
  }

  // A complete line: `last` is its final piece, without the `\n`.
  #line(last: Buffer): void {
    let bytes = last;
    if (this.#pendingBytes > 0) {
      if (this.#pendingBytes + last.length > this.#maxBytes + 1) return this.#tooLong(last);
      this.#append(last);
      bytes = this.#pending.subarray(0, this.#pendingBytes);
    }
    try {
      if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
      if (bytes.length > this.#maxBytes) return this.#emit({ kind: 'too_long', head: headText(bytes.subarray(0, this.#maxBytes)) });
      if (!isUtf8(bytes)) return this.#emit(INVALID_UTF8);
      // A UTF-8 byte order mark starting a line is dropped, as the original's json.loads(bytes) does.
      const text = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.toString('utf8', 3) : bytes.toString('utf8');
      if (!isBlank(text)) this.#emit({ kind: 'line', text });
    } finally {
      if (this.#pendingBytes > 0) this.#drop();
    }
  }

  // The pending bytes and then `more` make a line over the limit: report it with its head, forget it.
  #tooLong(more: Buffer): void {
    const room = this.#maxBytes - this.#pendingBytes;
    const head = room <= 0 ? this.#pending.subarray(0, this.#maxBytes) : Buffer.concat([this.#pending.subarray(0, this.#pendingBytes), more.subarray(0, room)]);
    const frame: Frame = { kind: 'too_long', head: headText(head) };
    this.#drop();
    this.#emit(frame);
  }

  #emit(frame: Frame): void {
    if (this.#paused || this.#held.length > this.#heldAt) this.#held.push(frame);
    else this.#onFrame(frame);
  }

  /** EOF: a last line without `\n` still counts. */
  end(): void {
    if (this.#destroyed || this.#ended) return;
    if (!this.#skipping && this.#pendingBytes > 0) this.#line(EMPTY);
    this.#drop();
    this.#ended = true;
    this.#flush();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    if (this.#flushScheduled || (this.#held.length === this.#heldAt && !this.#ended)) return;
    // Later, not now: resume is called from inside a reply, and a held frame's
    // own reply must not run inside it.
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  // Delivers held frames until paused again; then the end, once everything is out.
  #flush(): void {
    while (!this.#paused && !this.#destroyed && this.#heldAt < this.#held.length) this.#onFrame(this.#held[this.#heldAt++] as Frame);
    if (this.#heldAt === this.#held.length) {
      this.#held = [];
      this.#heldAt = 0;
    }
    if (this.#ended && !this.#endDelivered && !this.#paused && !this.#destroyed && this.#held.length === 0) {
      this.#endDelivered = true;
      this.#onEnd();
    }
  }

  destroy(): void {
    this.#destroyed = true;
    this.#held = [];
    this.#heldAt = 0;
    this.#pendingBytes = 0;
    this.#pending = EMPTY;
  }
}
