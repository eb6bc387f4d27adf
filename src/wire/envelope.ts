/**
 * Lines → messages. Turns one line of text into a discriminated union —
 * parse error, control message, invalid request, request, or batch — in one
 * linear pass (`jsonscan`), with the JSON-RPC id kept as its exact source
 * text and params kept as their exact JSON text for the worker to parse
 * (SPEC §2, §6). Knows nothing about sockets, the pool or the control plane.
 */
import { boundData, ErrorCode, type InvalidPart, type WireError } from '../contract/errors.js';
import { CONTROL_FIELDS, headId, scanLine, stringValue, type Element, type Span } from './jsonscan.js';

/** The seven control types (SPEC §3). */
const CONTROL_TYPES: ReadonlySet<string> = new Set([
  'status',
  'user_initiated_sleep',
  'force_wake',
  'force_rem',
  'pause',
  'resume',
  'session_open',
]);

/** An id as the exact JSON text the client sent (`42`, `"abc"`, `18446744073709551617`, `1e-400`). */
export type RawId = string;

export type ControlMessage = Readonly<Record<string, unknown>> & { readonly type: string };

/** The bounds a line is checked against (SPEC §6); all options in `config`. */
export interface EnvelopeLimits {
  /** Most elements in a batch. */
  readonly maxBatchLength: number;
  /** Deepest nesting of objects and arrays in a line. */
  readonly maxDepth: number;
  /** Longest method name, in UTF-8 bytes. */
  readonly maxMethodBytes: number;
}

/** A single message: what one line (or one element of a batch) means. */
export type Message =
  | {
      readonly kind: 'control';
      readonly msg: ControlMessage;
      /**
       * Its `seconds` is a number written with a fraction or an exponent (`1.0`, `1e2`): a float
       * to the original, so not an int, though JSON.parse gives the same value as for `1`.
       */
      readonly floatSeconds: boolean;
    }
  /** Refused before it runs: a -32600 with `data` (docs/protocol.md, "Error data"). */
  | { readonly kind: 'invalid'; readonly id: RawId | null; readonly error: WireError }
  | {
      readonly kind: 'request';
      /** null for a notification (no `id` key): it runs and gets no response. */
      readonly id: RawId | null;
      readonly method: string;
      /** The exact JSON text of `params` (an object or array), `{}` when absent. */
      readonly params: string;
    };

/** What a whole line means. */
export type Parsed =
  | { readonly kind: 'parse_error'; readonly error: WireError }
  | { readonly kind: 'batch'; readonly items: readonly Message[] }
  | Message;

/**
 * A copy of a slice of the line that does not keep the line alive. V8 makes
 * a slice of 13+ characters a view of its parent; a method name stored in a
 * per-method table would otherwise hold a whole (up to 1 MiB) line for good.
 */
function detach(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

function invalid(id: RawId | null, message: string, data: WireError['data']): Message {
  return { kind: 'invalid', id, error: { code: ErrorCode.InvalidRequest, message, data } };
}

function bad(id: RawId | null, part: InvalidPart, message: string): Message {
  return invalid(id, message, { invalid: part });
}

const NOT_AN_OBJECT = bad(null, 'request', 'request must be a JSON object');

/** Whether a method name is over the limit, without decoding a long one. */
function methodTooLong(line: string, span: Span, maxBytes: number): boolean {
  // A character takes at most 6 source characters (\uXXXX), and at least one UTF-8 byte.
  if ((span.end - span.start - 2) / 6 > maxBytes) return true;
  const name = stringValue(line, span);
  return name.length > maxBytes || (name.length * 3 > maxBytes && Buffer.byteLength(name) > maxBytes);
}

/**
 * A control message from the only fields the control plane reads. Parsing
 * the whole object instead cost 100+ ms for 1 MiB of distinct keys; the
 * plane checks only that a container value is of the wrong type, so its
 * contents are never read.
 */
function controlMessage(line: string, type: string, members: Extract<Element, { object: true }>['members']): ControlMessage {
  const msg: Record<string, unknown> & { type: string } = { type };
  for (const key of CONTROL_FIELDS) {
    const span = members[key];
    if (span === undefined) continue;
    if (span.kind === 'object') msg[key] = {};
    else if (span.kind === 'array') msg[key] = [];
    // Detached: a value the state keeps must not keep the whole line alive.
    else if (span.kind === 'string') msg[key] = detach(stringValue(line, span));
    else msg[key] = JSON.parse(line.slice(span.start, span.end)) as unknown;
  }
  return msg;
}

/** The id to echo: a string or a number, exactly as written (SPEC §2); else null. */
function echoOf(line: string, id: Span | undefined): RawId | null {
  return id !== undefined && (id.kind === 'string' || id.kind === 'number') ? detach(line.slice(id.start, id.end)) : null;
}

/** The refusal of an element nested past the bound: it carries the element's id, if it has one. */
function tooDeep(id: RawId | null, maxDepth: number): Message {
  return invalid(id, `nesting deeper than ${maxDepth} levels`, boundData('max_depth', maxDepth));
}

/** Classifies one scanned element (SPEC §2 routing steps 2–4). */
function classify(line: string, el: Element, limits: EnvelopeLimits): Message {
  if (!el.object) return el.tooDeep ? tooDeep(null, limits.maxDepth) : NOT_AN_OBJECT;
  const { jsonrpc, id, method, type, params, seconds } = el.members;
  const echo = echoOf(line, id);
  // Before routing: a control message is bounded like any line (SPEC §6).
  if (el.tooDeep) return tooDeep(echo, limits.maxDepth);
  const maxMethodBytes = limits.maxMethodBytes;
  if (type?.kind === 'string' && jsonrpc === undefined) {
    const name = stringValue(line, type);
    if (CONTROL_TYPES.has(name)) {
      const floatSeconds = seconds?.kind === 'number' && /[.eE]/.test(line.slice(seconds.start, seconds.end));
      return { kind: 'control', msg: controlMessage(line, name, el.members), floatSeconds };
    }
  }
  if (jsonrpc?.kind !== 'string' || stringValue(line, jsonrpc) !== '2.0') return bad(echo, 'jsonrpc', "jsonrpc must be '2.0'");
  if (id?.kind === 'null') return bad(echo, 'id', 'id required and non-null');
  if (id !== undefined && echo === null) return bad(echo, 'id', 'id must be a string or a number');
  if (method?.kind !== 'string') return bad(echo, 'method', 'method must be a string');
  if (methodTooLong(line, method, maxMethodBytes)) {
    return invalid(echo, `method name longer than ${maxMethodBytes} bytes`, boundData('max_method_bytes', maxMethodBytes));
  }
  if (params !== undefined && params.kind !== 'object' && params.kind !== 'array') {
    return bad(echo, 'params', 'params must be object or array');
  }
  return {
    kind: 'request',
    id: echo,
    method: detach(stringValue(line, method)),
    params: params === undefined ? '{}' : line.slice(params.start, params.end),
  };
}

/** Parses one line, once. */
export function parseLine(line: string, limits: EnvelopeLimits): Parsed {
  const scanned = scanLine(line, limits);
  switch (scanned.kind) {
    case 'syntax_error':
      return { kind: 'parse_error', error: { code: ErrorCode.ParseError, message: scanned.message, data: { syntax: 'json' } } };
    case 'batch_too_large':
      return invalid(null, `batch too large (limit ${limits.maxBatchLength} elements)`, boundData('max_batch_length', limits.maxBatchLength));
    case 'single':
      return classify(line, scanned.element, limits);
    case 'batch':
      if (scanned.elements.length === 0) return bad(null, 'batch', 'empty batch');
      return { kind: 'batch', items: scanned.elements.map((el) => classify(line, el, limits)) };
  }
}

/**
 * The id of a line refused for its length, read from the part before the
 * cut (`head`, null when the framer kept none): see `headId`.
 */
export function idBeforeCut(head: string | null, limits: EnvelopeLimits): RawId | null {
  if (head === null) return null;
  const span = headId(head, limits.maxDepth);
  return span === null ? null : detach(head.slice(span.start, span.end));
}
