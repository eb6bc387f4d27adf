/**
 * Lines → messages. Turns one line of text into a discriminated union —
 * parse error, control message, invalid request, request, or batch — with
 * the JSON-RPC id kept as its exact JSON text (SPEC §2). Knows nothing about
 * sockets, the pool or the control plane.
 */
import { parse as losslessParse } from 'lossless-json';

/** The seven control types (SPEC §3). */
export const CONTROL_TYPES: ReadonlySet<string> = new Set([
  'status',
  'user_initiated_sleep',
  'force_wake',
  'force_rem',
  'pause',
  'resume',
  'session_open',
]);

/** An id as the exact JSON text the client sent (`42`, `"abc"`, `18446744073709551617`). */
export type RawId = string;

export type ControlMessage = Readonly<Record<string, unknown>> & { readonly type: string };

/** A single message: what one line (or one element of a batch) means. */
export type Message =
  | { readonly kind: 'control'; readonly msg: ControlMessage }
  | { readonly kind: 'invalid'; readonly id: RawId | null; readonly message: string }
  | {
      readonly kind: 'request';
      /** null for a notification (no `id` key): it runs and gets no response. */
      readonly id: RawId | null;
      readonly method: string;
      readonly params: unknown;
    };

/** What a whole line means. */
export type Parsed =
  | { readonly kind: 'parse_error'; readonly message: string }
  | { readonly kind: 'batch'; readonly items: readonly Message[] }
  | Message;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The id's JSON text. Safe integers and strings re-serialise exactly; any
 * other number is re-read from the line so no digit is lost to a double.
 */
function rawIdOf(id: string | number, line: string, index: number | null): RawId {
  if (typeof id === 'string' || Number.isSafeInteger(id)) return JSON.stringify(id);
  try {
    const tree = losslessParse(line, null, (digits: string) => ({ digits })) as unknown;
    const holder = index === null ? tree : Array.isArray(tree) ? tree[index] : undefined;
    const raw = isObject(holder) ? holder.id : undefined;
    if (isObject(raw) && typeof raw.digits === 'string') return raw.digits;
  } catch {
    // lossless-json is stricter than JSON.parse (duplicate keys); keep the double.
  }
  return JSON.stringify(id);
}

/** Classifies one parsed JSON value (SPEC §2 routing steps 2–4). */
export function classify(value: unknown, line: string, index: number | null = null): Message {
  if (!isObject(value)) return { kind: 'invalid', id: null, message: 'request must be a JSON object' };
  const type = value.type;
  if (typeof type === 'string' && CONTROL_TYPES.has(type) && !('jsonrpc' in value)) {
    return { kind: 'control', msg: value as ControlMessage };
  }
  const id = value.id;
  const usable = typeof id === 'string' || typeof id === 'number';
  const echo = usable ? rawIdOf(id as string | number, line, index) : null;
  const invalid = (message: string): Message => ({ kind: 'invalid', id: echo, message });
  if (value.jsonrpc !== '2.0') return invalid("jsonrpc must be '2.0'");
  const hasId = 'id' in value;
  if (hasId && id === null) return invalid('id required and non-null');
  if (hasId && !usable) return invalid('id must be a string or a number');
  if (typeof value.method !== 'string') return invalid('method must be a string');
  const params = value.params;
  if ('params' in value && (params === null || typeof params !== 'object')) {
    return invalid('params must be object or array');
  }
  return { kind: 'request', id: hasId ? echo : null, method: value.method, params: params ?? {} };
}

/** Parses one line, once. */
export function parseLine(line: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { kind: 'parse_error', message: (err as Error).message };
  }
  if (Array.isArray(value)) {
    return { kind: 'batch', items: value.map((item, i) => classify(item, line, i)) };
  }
  return classify(value, line);
}
