/**
 * A validating JSON scanner for one request line: one pass, linear in the
 * line, no value tree built. It accepts exactly what `JSON.parse` accepts
 * (RFC 8259) and, for the top-level value and each element of a top-level
 * array, reports only what routing needs: whether it is an object, and the
 * source spans of its `jsonrpc`, `id`, `method`, `type` and `params` members
 * (the last occurrence of a duplicate key wins, as in `JSON.parse`; keys
 * written with escapes count). Numbers are never converted, so an id keeps
 * every digit. Knows nothing about JSON-RPC beyond those five names.
 *
 * Why not a library: none of the maintained ones both keeps number text
 * losslessly and tolerates duplicate keys the way `JSON.parse` does, and a
 * full value tree is more than routing needs.
 */

/** What a value is, from its first character. */
export type ValueKind = 'object' | 'array' | 'string' | 'number' | 'true' | 'false' | 'null';

/** One value's place in the line: `line.slice(start, end)` is its exact source text. */
export interface Span {
  readonly kind: ValueKind;
  readonly start: number;
  readonly end: number;
  /** Strings only: the text holds a backslash escape, so it must be decoded. */
  readonly escaped: boolean;
}

/** The member names routing reads. */
export type RoutingKey = 'jsonrpc' | 'id' | 'method' | 'type' | 'params';

/** A top-level value or batch element. */
export type Element =
  | { readonly object: false }
  | { readonly object: true; readonly start: number; readonly end: number; readonly members: Readonly<Partial<Record<RoutingKey, Span>>> };

export interface ScanLimits {
  /** Deepest nesting of objects and arrays; the top-level value is depth 1. */
  readonly maxDepth: number;
  /** Most elements a top-level array may have. */
  readonly maxBatchLength: number;
}

export type Scanned =
  | { readonly kind: 'single'; readonly element: Element }
  | { readonly kind: 'batch'; readonly elements: readonly Element[] }
  | { readonly kind: 'syntax_error'; readonly message: string }
  | { readonly kind: 'too_deep' }
  | { readonly kind: 'batch_too_large' };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

// Longest source text a routing key can have: `"jsonrpc"` with every character as \uXXXX.
const MAX_KEY_SOURCE = 2 + 6 * 7;
const ROUTING_KEYS: ReadonlySet<string> = new Set<RoutingKey>(['jsonrpc', 'id', 'method', 'type', 'params']);

class SyntaxFailure {
  constructor(readonly message: string) {}
}
class DepthFailure {}
const TOO_DEEP = new DepthFailure();

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function skipWs(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Where the string starting at i (a quote) ends, past its closing quote; -1 if it is not valid. */
function stringEnd(s: string, i: number): number {
  const n = s.length;
  for (i++; i < n; ) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      const e = s.charCodeAt(i + 1);
      if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) i += 2;
      else if (e === 0x75 && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5))) i += 6;
      else return -1;
    } else if (c < 0x20) {
      return -1;
    } else {
      i++;
    }
  }
  return -1;
}

/** Where the number starting at i ends; -1 if it is not valid. */
function numberEnd(s: string, i: number): number {
  if (s.charCodeAt(i) === MINUS) i++;
  const first = s.charCodeAt(i);
  if (first === ZERO) i++;
  else if (isDigit(first)) while (isDigit(s.charCodeAt(++i)));
  else return -1;
  if (s.charCodeAt(i) === DOT) {
    if (!isDigit(s.charCodeAt(++i))) return -1;
    while (isDigit(s.charCodeAt(++i)));
  }
  const e = s.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    const sign = s.charCodeAt(++i);
    if (sign === PLUS || sign === MINUS) i++;
    if (!isDigit(s.charCodeAt(i))) return -1;
    while (isDigit(s.charCodeAt(++i)));
  }
  return i;
}

/** Where true, false or null starting at i ends; -1 if it is none of them. */
function literalEnd(s: string, i: number, c: number): number {
  const word = c === 0x74 ? 'true' : c === 0x66 ? 'false' : c === 0x6e ? 'null' : null;
  return word !== null && s.startsWith(word, i) ? i + word.length : -1;
}

/** A character for an error message: printable ASCII as is, anything else as \uXXXX. */
function show(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `'\\u${c.toString(16).padStart(4, '0')}'`;
}

class Scanner {
  readonly #s: string;
  readonly #n: number;
  readonly #maxDepth: number;
  #i = 0;
  // Set by #string(): whether the string just scanned held an escape.
  #escaped = false;

  constructor(s: string, maxDepth: number) {
    this.#s = s;
    this.#n = s.length;
    this.#maxDepth = maxDepth;
  }

  // Error messages are short and never quote the input beyond one character.
  #fail(what?: string): never {
    if (this.#i >= this.#n) throw new SyntaxFailure('Unexpected end of JSON input');
    throw new SyntaxFailure(`${what ?? `Unexpected token ${show(this.#s.charCodeAt(this.#i))} in JSON`} at position ${this.#i}`);
  }

  ws(): void {
    const s = this.#s;
    let i = this.#i;
    for (; i < this.#n; i++) {
      const c = s.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    }
    this.#i = i;
  }

  peek(): number {
    return this.#i < this.#n ? this.#s.charCodeAt(this.#i) : -1;
  }

  expect(c: number): void {
    if (this.peek() !== c) this.#fail();
    this.#i++;
  }

  atEnd(): boolean {
    return this.#i >= this.#n;
  }

  trailing(): never {
    this.#fail('Unexpected non-whitespace character after JSON');
  }

  /** A string at #i (which is a quote); leaves #i after its closing quote. */
  #string(): void {
    const s = this.#s;
    const n = this.#n;
    let i = this.#i + 1;
    let escaped = false;
    for (;;) {
      if (i >= n) {
        this.#i = i;
        this.#fail();
      }
      const c = s.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        const e = s.charCodeAt(i + 1);
        // " \ / b f n r t
        if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          i += 2;
        } else if (e === 0x75 && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5))) {
          i += 6;
        } else {
          this.#i = i;
          this.#fail('Bad escaped character in JSON');
        }
      } else if (c < 0x20) {
        this.#i = i;
        this.#fail('Bad control character in string literal in JSON');
      } else {
        i++;
      }
    }
    this.#i = i + 1;
    this.#escaped = escaped;
  }

  #number(): void {
    const s = this.#s;
    let i = this.#i;
    if (s.charCodeAt(i) === MINUS) i++;
    const first = s.charCodeAt(i);
    if (first === ZERO) i++;
    else if (isDigit(first)) while (isDigit(s.charCodeAt(++i)));
    else this.#failAt(i, 'No number after minus sign in JSON');
    if (s.charCodeAt(i) === DOT) {
      if (!isDigit(s.charCodeAt(++i))) this.#failAt(i, 'Unterminated fractional number in JSON');
      while (isDigit(s.charCodeAt(++i)));
    }
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      const sign = s.charCodeAt(++i);
      if (sign === PLUS || sign === MINUS) i++;
      if (!isDigit(s.charCodeAt(i))) this.#failAt(i, 'Exponent part is missing a number in JSON');
      while (isDigit(s.charCodeAt(++i)));
    }
    this.#i = i;
  }

  #failAt(i: number, what: string): never {
    this.#i = i;
    this.#fail(what);
  }

  #literal(word: string): void {
    if (!this.#s.startsWith(word, this.#i)) this.#fail();
    this.#i += word.length;
  }

  /** A scalar at #i (whitespace already skipped); returns its kind. */
  #scalar(): ValueKind {
    const c = this.peek();
    if (c === QUOTE) {
      this.#string();
      return 'string';
    }
    if (c === MINUS || isDigit(c)) {
      this.#number();
      this.#escaped = false;
      return 'number';
    }
    this.#escaped = false;
    if (c === 0x74) {
      this.#literal('true');
      return 'true';
    }
    if (c === 0x66) {
      this.#literal('false');
      return 'false';
    }
    if (c === 0x6e) {
      this.#literal('null');
      return 'null';
    }
    return this.#fail();
  }

  /** A key and its colon, for a container being skipped. */
  #keyColon(): void {
    if (this.peek() !== QUOTE) this.#fail();
    this.#string();
    this.ws();
    this.expect(COLON);
    this.ws();
  }

  /**
   * Skips one value of any kind at #i (whitespace already skipped). `depth`
   * is the depth the value has if it is a container. Iterative, so nesting
   * costs no call stack; a container deeper than the limit stops the scan.
   * The loop works on locals and pure helpers (the hot path of a 1 MiB
   * line); on any error it hands the position to the detailed methods above,
   * which produce the message.
   */
  skipValue(depth: number): ValueKind {
    const c0 = this.peek();
    if (c0 !== LBRACE && c0 !== LBRACKET) return this.#scalar();
    const s = this.#s;
    const room = this.#maxDepth - depth; // containers that may open inside this one
    const closers: number[] = [];
    let i = this.#i;
    outer: for (;;) {
      // Here i is at the start of a value.
      let c = s.charCodeAt(i);
      if (c === LBRACE || c === LBRACKET) {
        if (closers.length > room) {
          this.#i = i;
          throw TOO_DEEP;
        }
        const close = c + 2; // '{' + 2 is '}', '[' + 2 is ']'
        i = skipWs(s, i + 1);
        if (s.charCodeAt(i) !== close) {
          closers.push(close);
          if (close === RBRACE) i = this.#keyColonAt(i);
          continue;
        }
        i++;
        if (closers.length === 0) break;
      } else {
        const end = c === QUOTE ? stringEnd(s, i) : c === MINUS || isDigit(c) ? numberEnd(s, i) : literalEnd(s, i, c);
        if (end < 0) {
          this.#i = i;
          this.#scalar(); // throws, with the right message
        }
        i = end;
      }
      // A value just ended: separators and closers until the next value starts.
      for (;;) {
        i = skipWs(s, i);
        c = s.charCodeAt(i);
        const close = closers[closers.length - 1] as number;
        if (c === COMMA) {
          i = skipWs(s, i + 1);
          if (close === RBRACE) i = this.#keyColonAt(i);
          continue outer;
        }
        if (c !== close) {
          this.#i = i;
          this.#fail();
        }
        i++;
        closers.pop();
        if (closers.length === 0) break outer;
      }
    }
    this.#i = i;
    this.#escaped = false;
    return c0 === LBRACE ? 'object' : 'array';
  }

  /** A member name and its colon at i, inside a skipped object; returns where its value starts. */
  #keyColonAt(i: number): number {
    const s = this.#s;
    const end = s.charCodeAt(i) === QUOTE ? stringEnd(s, i) : -1;
    if (end < 0) {
      this.#i = i;
      this.#keyColon(); // throws, with the right message
    }
    const colon = skipWs(s, end);
    if (s.charCodeAt(colon) !== COLON) {
      this.#i = colon;
      this.#fail();
    }
    return skipWs(s, colon + 1);
  }

  /** The routing key a member name stands for, or null (read only when short enough to be one). */
  #routingKey(start: number, end: number, escaped: boolean): RoutingKey | null {
    if (end - start > (escaped ? MAX_KEY_SOURCE : 9)) return null;
    const raw = this.#s.slice(start, end);
    const name = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
    return ROUTING_KEYS.has(name) ? (name as RoutingKey) : null;
  }

  /**
   * An object at #i whose routing members are wanted; `depth` is its depth.
   * Member values are skipped, not built.
   */
  object(depth: number): Element {
    if (depth > this.#maxDepth) throw TOO_DEEP;
    const start = this.#i;
    const members: Partial<Record<RoutingKey, Span>> = {};
    this.#i++;
    this.ws();
    if (this.peek() === RBRACE) {
      this.#i++;
      return { object: true, start, end: this.#i, members };
    }
    for (;;) {
      if (this.peek() !== QUOTE) this.#fail();
      const keyStart = this.#i;
      this.#string();
      const key = this.#routingKey(keyStart, this.#i, this.#escaped);
      this.ws();
      this.expect(COLON);
      this.ws();
      const valueStart = this.#i;
      const kind = this.skipValue(depth + 1);
      if (key !== null) members[key] = { kind, start: valueStart, end: this.#i, escaped: this.#escaped };
      this.ws();
      const c = this.peek();
      if (c === COMMA) {
        this.#i++;
        this.ws();
        continue;
      }
      if (c !== RBRACE) this.#fail();
      this.#i++;
      return { object: true, start, end: this.#i, members };
    }
  }

  /** A value at #i that is an element: an object is looked into, anything else skipped. */
  element(depth: number): Element {
    if (this.peek() === LBRACE) return this.object(depth);
    this.skipValue(depth);
    return NOT_OBJECT;
  }
}

const NOT_OBJECT: Element = Object.freeze({ object: false });

/**
 * Scans one line. A line that passes a bound stops there: deeper than
 * `maxDepth` at the first container past the limit, a top-level array at
 * element `maxBatchLength + 1` — the rest of such a line is not read, so it
 * costs no more than a line at the bound.
 */
export function scanLine(line: string, limits: ScanLimits): Scanned {
  const sc = new Scanner(line, limits.maxDepth);
  try {
    sc.ws();
    let result: Scanned;
    if (sc.peek() === LBRACKET) {
      if (limits.maxDepth < 1) throw TOO_DEEP;
      sc.expect(LBRACKET);
      sc.ws();
      const elements: Element[] = [];
      if (sc.peek() === RBRACKET) {
        sc.expect(RBRACKET);
      } else {
        for (;;) {
          if (elements.length === limits.maxBatchLength) return { kind: 'batch_too_large' };
          elements.push(sc.element(2));
          sc.ws();
          if (sc.peek() === COMMA) {
            sc.expect(COMMA);
            sc.ws();
            continue;
          }
          sc.expect(RBRACKET);
          break;
        }
      }
      result = { kind: 'batch', elements };
    } else {
      result = { kind: 'single', element: sc.element(1) };
    }
    sc.ws();
    if (!sc.atEnd()) sc.trailing();
    return result;
  } catch (err) {
    if (err === TOO_DEEP) return { kind: 'too_deep' };
    if (err instanceof SyntaxFailure) return { kind: 'syntax_error', message: err.message };
    throw err;
  }
}

/** A string span's value (decoded only when it holds escapes). */
export function stringValue(line: string, span: Span): string {
  const raw = line.slice(span.start, span.end);
  return span.escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
}
