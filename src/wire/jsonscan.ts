/**
 * A validating JSON scanner for one request line: one pass, linear in the
 * line, no value tree built. It accepts exactly what `JSON.parse` accepts
 * (RFC 8259) and, for the top-level value and each element of a top-level
 * array, reports only what routing needs: whether it is an object, and the
 * source spans of its `jsonrpc`, `id`, `method`, `type` and `params` members
 * and of the control-message fields `reason`, `ts`, `seconds` and
 * `session_id` (so a control message is built from its fields, never by
 * parsing a whole object of any size)
 * (the last occurrence of a duplicate key wins, as in `JSON.parse`; keys
 * written with escapes count). Numbers are never converted, so an id keeps
 * every digit. Knows nothing about JSON-RPC beyond those five names.
 *
 * Why not a library: none of the maintained ones both keeps number text
 * losslessly and tolerates duplicate keys the way `JSON.parse` does, and a
 * full value tree is more than routing needs.
 *
 * Why one file past ~300 lines: the scanner is one state machine over one
 * string; its members table, scalars and walk share the cursor and the
 * limits on the hot path of every line. Apart, they would pass that state
 * between modules, and no file would show the whole grammar.
 */
import {
  COLON,
  COMMA,
  PAD,
  LBRACE,
  LBRACKET,
  MINUS,
  QUOTE,
  RBRACE,
  RBRACKET,
  decodeShortName,
  END_OF_INPUT,
  hasBackslash,
  isDigit,
  literalEnd,
  numberEnd,
  skipWs,
  stringEnd,
  tokenError,
  trailing,
  unexpected,
} from './jsonlex.js';

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
export type RoutingKey = 'jsonrpc' | 'id' | 'method' | 'type' | 'params' | ControlField;

/** The fields the control plane reads besides `type` (SPEC §3). */
export type ControlField = 'reason' | 'ts' | 'seconds' | 'session_id';
export const CONTROL_FIELDS: readonly ControlField[] = ['reason', 'ts', 'seconds', 'session_id'];

/**
 * A top-level value or batch element. `tooDeep`: it nests deeper than the
 * limit (counted from the element itself, so a request nests as deep alone
 * as in a batch); it was still read to its end, so its members are known and
 * the rest of the line is checked.
 */
export type Element =
  | { readonly object: false; readonly tooDeep: boolean }
  | {
      readonly object: true;
      readonly start: number;
      readonly end: number;
      readonly members: Readonly<Partial<Record<RoutingKey, Span>>>;
      readonly tooDeep: boolean;
    };

export interface ScanLimits {
  /** Deepest nesting of objects and arrays; a line's value, or a batch's element, is depth 1. */
  readonly maxDepth: number;
  /** Most elements a top-level array may have. */
  readonly maxBatchLength: number;
}

export type Scanned =
  | { readonly kind: 'single'; readonly element: Element }
  | { readonly kind: 'batch'; readonly elements: readonly Element[] }
  | { readonly kind: 'syntax_error'; readonly message: string }
  | { readonly kind: 'batch_too_large' };

// Longest routing key (`session_id`), and its longest source text: every character as \uXXXX.
const MAX_KEY_LENGTH = 10;
const MAX_KEY_SOURCE = 2 + 6 * MAX_KEY_LENGTH;
const ROUTING_KEYS: ReadonlySet<string> = new Set<RoutingKey>(['jsonrpc', 'id', 'method', 'type', 'params', ...CONTROL_FIELDS]);
const ROUTING_FIRSTS = 'jimtpsr';

class SyntaxFailure {
  constructor(readonly message: string) {}
}
const NOT_OBJECT: Element = Object.freeze({ object: false, tooDeep: false });
const NOT_OBJECT_DEEP: Element = Object.freeze({ object: false, tooDeep: true });

/** The routing members of one object; a fixed shape (nine fields), filled as they are met. */
class Members implements Partial<Record<RoutingKey, Span>> {
  jsonrpc: Span | undefined = undefined;
  id: Span | undefined = undefined;
  method: Span | undefined = undefined;
  type: Span | undefined = undefined;
  params: Span | undefined = undefined;
  reason: Span | undefined = undefined;
  ts: Span | undefined = undefined;
  seconds: Span | undefined = undefined;
  session_id: Span | undefined = undefined;

  set(key: RoutingKey, span: Span): void {
    switch (key) {
      case 'jsonrpc':
        this.jsonrpc = span;
        return;
      case 'id':
        this.id = span;
        return;
      case 'method':
        this.method = span;
        return;
      case 'type':
        this.type = span;
        return;
      case 'params':
        this.params = span;
        return;
      case 'reason':
        this.reason = span;
        return;
      case 'ts':
        this.ts = span;
        return;
      case 'seconds':
        this.seconds = span;
        return;
      case 'session_id':
        this.session_id = span;
        return;
    }
  }
}

/** The routing key the (valid) member name at start..end stands for, or null; only a short name is read. */
function routingKey(s: string, start: number, end: number): RoutingKey | null {
  if (end - start > MAX_KEY_SOURCE) return null;
  const escaped = hasBackslash(s, start, end);
  if (!escaped && end - start > MAX_KEY_LENGTH + 2) return null;
  const name = escaped ? decodeShortName(s, start, end, ROUTING_FIRSTS, MAX_KEY_LENGTH) : s.slice(start + 1, end - 1);
  return name !== null && ROUTING_KEYS.has(name) ? (name as RoutingKey) : null;
}

/** Past the scalar at `i` in padded `s` (a line of length `n`), with its kind; throws the parse error if it is not one. */
function scalar(s: string, n: number, i: number): { kind: ValueKind; end: number } {
  const c = s.charCodeAt(i);
  let kind: ValueKind;
  let end: number;
  if (c === QUOTE) {
    kind = 'string';
    end = stringEnd(s, i);
  } else if (c === MINUS || isDigit(c)) {
    kind = 'number';
    end = numberEnd(s, i);
  } else {
    kind = c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'null';
    end = literalEnd(s, i, c);
  }
  if (end < 0) throw new SyntaxFailure(tokenError(s, n, i));
  return { kind, end };
}

class Scanner {
  /** The line with PAD after it: every read stays in bounds. */
  readonly #text: string;
  /** The line's own length. */
  readonly #length: number;
  readonly #maxDepth: number;
  /** The element being read went past the depth limit. */
  #deep = false;

  constructor(line: string, maxDepth: number) {
    this.#text = line + PAD;
    this.#length = line.length;
    this.#maxDepth = maxDepth;
  }

  #fail(i: number): never {
    throw new SyntaxFailure(unexpected(this.#text, this.#length, i));
  }

  #badToken(i: number): never {
    throw new SyntaxFailure(tokenError(this.#text, this.#length, i));
  }

  /** Past a member name and its colon at `i` (inside an object); where its value starts. */
  #keyColon(i: number): number {
    const s = this.#text;
    if (s.charCodeAt(i) !== QUOTE) this.#fail(i);
    const end = stringEnd(s, i);
    if (end < 0) this.#badToken(i);
    const colon = skipWs(s, end);
    if (s.charCodeAt(colon) !== COLON) this.#fail(colon);
    return skipWs(s, colon + 1);
  }

  /**
   * Past the container at `i` (`{` or `[`), whose depth is `depth`; nothing
   * in it is kept. Iterative, so nesting costs no call stack (one array
   * entry per open level: memory linear in the line); a container deeper
   * than the limit marks the element, and the scan goes on, so a refusal
   * can still name an id written after the deep part, and a batch's other
   * elements are still read.
   */
  skipContainer(i: number, depth: number): number {
    const s = this.#text;
    const room = this.#maxDepth - depth; // containers that may open inside this one
    const closers: number[] = [];
    outer: for (;;) {
      // Here i is at the start of a value.
      let c = s.charCodeAt(i);
      if (c === LBRACE || c === LBRACKET) {
        if (closers.length > room) this.#deep = true;
        const close = c + 2; // '{' + 2 is '}', '[' + 2 is ']'
        i = skipWs(s, i + 1);
        if (s.charCodeAt(i) !== close) {
          closers.push(close);
          if (close === RBRACE) i = this.#keyColon(i);
          continue;
        }
        i++;
        if (closers.length === 0) return i;
      } else {
        const end = c === QUOTE ? stringEnd(s, i) : c === MINUS || isDigit(c) ? numberEnd(s, i) : literalEnd(s, i, c);
        if (end < 0) this.#badToken(i);
        i = end;
      }
      // A value just ended: separators and closers until the next value starts.
      for (;;) {
        i = skipWs(s, i);
        c = s.charCodeAt(i);
        const close = closers[closers.length - 1] as number;
        if (c === COMMA) {
          i = skipWs(s, i + 1);
          if (close === RBRACE) i = this.#keyColon(i);
          continue outer;
        }
        if (c !== close) this.#fail(i);
        i++;
        closers.pop();
        if (closers.length === 0) return i;
      }
    }
  }

  /**
   * An object at `start` whose routing members are wanted; `depth` is its
   * depth. Members are set into `members` as they are met, so a caller that
   * reads a cut line still has those before the cut.
   */
  object(start: number, depth: number, members = new Members()): { element: Element; end: number } {
    if (depth > this.#maxDepth) this.#deep = true;
    const s = this.#text;
    let i = skipWs(s, start + 1);
    if (s.charCodeAt(i) !== RBRACE) {
      for (;;) {
        if (s.charCodeAt(i) !== QUOTE) this.#fail(i);
        const keyEnd = stringEnd(s, i);
        if (keyEnd < 0) this.#badToken(i);
        const key = routingKey(s, i, keyEnd);
        i = skipWs(s, keyEnd);
        if (s.charCodeAt(i) !== COLON) this.#fail(i);
        const valueStart = skipWs(s, i + 1);
        const c = s.charCodeAt(valueStart);
        let kind: ValueKind;
        if (c === LBRACE || c === LBRACKET) {
          kind = c === LBRACE ? 'object' : 'array';
          i = this.skipContainer(valueStart, depth + 1);
        } else {
          const v = scalar(s, this.#length, valueStart);
          kind = v.kind;
          i = v.end;
        }
        if (key !== null) members.set(key, { kind, start: valueStart, end: i, escaped: kind === 'string' && hasBackslash(s, valueStart, i) });
        i = skipWs(s, i);
        const d = s.charCodeAt(i);
        if (d === COMMA) {
          i = skipWs(s, i + 1);
          continue;
        }
        if (d !== RBRACE) this.#fail(i);
        break;
      }
    }
    return { element: { object: true, start, end: i + 1, members, tooDeep: this.#deep }, end: i + 1 };
  }

  /** The value at `i` as an element: an object is looked into, anything else skipped. */
  element(i: number): { element: Element; end: number } {
    this.#deep = false;
    const c = this.#text.charCodeAt(i);
    if (c === LBRACE) return this.object(i, 1);
    const end = c === LBRACKET ? this.skipContainer(i, 1) : scalar(this.#text, this.#length, i).end;
    return { element: this.#deep ? NOT_OBJECT_DEEP : NOT_OBJECT, end };
  }

  /** The whole line. */
  line(maxBatchLength: number): Scanned {
    const s = this.#text;
    let i = skipWs(s, 0);
    let result: Scanned;
    if (s.charCodeAt(i) === LBRACKET) {
      const elements: Element[] = [];
      i = skipWs(s, i + 1);
      if (s.charCodeAt(i) === RBRACKET) {
        i++;
      } else {
        for (;;) {
          if (elements.length === maxBatchLength) return { kind: 'batch_too_large' };
          const el = this.element(i);
          elements.push(el.element);
          i = skipWs(s, el.end);
          const c = s.charCodeAt(i);
          if (c === COMMA) {
            i = skipWs(s, i + 1);
            continue;
          }
          if (c !== RBRACKET) this.#fail(i);
          i++;
          break;
        }
      }
      result = { kind: 'batch', elements };
    } else {
      const el = this.element(i);
      result = { kind: 'single', element: el.element };
      i = el.end;
    }
    i = skipWs(s, i);
    if (i < this.#length) throw new SyntaxFailure(trailing(this.#length, i));
    return result;
  }
}

/**
 * Scans one line. An element deeper than `maxDepth` is marked and the scan
 * goes on (each element has its own fate, SPEC §6; the cost stays linear).
 * A top-level array stops at element `maxBatchLength + 1`: a bound on the
 * line as a whole, so the rest is not read.
 */
export function scanLine(line: string, limits: ScanLimits): Scanned {
  try {
    return new Scanner(line, limits.maxDepth).line(limits.maxBatchLength);
  } catch (err) {
    if (err instanceof SyntaxFailure) return { kind: 'syntax_error', message: err.message };
    throw err;
  }
}

/**
 * The span of the top-level `id` of a line that was cut (too long), if the
 * part before the cut is the start of one JSON object and its `id` member
 * stands complete before the cut: a string or number followed by its comma. One linear
 * pass over the part; anything else (a batch, a syntax error before the cut,
 * an id cut in two) gives null. The last `id` before the cut wins, as a
 * later duplicate behind the cut cannot be seen.
 */
export function headId(head: string, maxDepth: number): Span | null {
  const scanner = new Scanner(head, maxDepth);
  const s = head + PAD;
  const start = skipWs(s, 0);
  if (s.charCodeAt(start) !== LBRACE) return null;
  const members = new Members();
  try {
    scanner.object(start, 1, members);
    return null; // the object ended before the cut: the line is not one object
  } catch (err) {
    if (!(err instanceof SyntaxFailure) || err.message !== END_OF_INPUT) return null;
  }
  const id = members.id;
  // Only an id JSON-RPC allows (a string or a number) is echoed.
  if (id === undefined || (id.kind !== 'string' && id.kind !== 'number') || id.end >= head.length) return null;
  return s.charCodeAt(skipWs(s, id.end)) === COMMA ? id : null;
}

/** A string span's value (decoded only when it holds escapes). */
export function stringValue(line: string, span: Span): string {
  const raw = line.slice(span.start, span.end);
  return span.escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
}
