/**
 * What a client command sends, built from its arguments before anything
 * connects, so a bad argument is a usage error and nothing is sent.
 */
import { UsageError } from './io.js';

export type ControlMessage = { readonly type: string } & Readonly<Record<string, unknown>>;

export type Request =
  /** `params` is the JSON text as the user wrote it (sent as is: no number is rounded), or undefined. */
  | { readonly kind: 'call'; readonly method: string; readonly params: string | undefined }
  | { readonly kind: 'control'; readonly message: ControlMessage }
  /** `status`, printed as Prometheus text. */
  | { readonly kind: 'metrics' };

function atMost(cmd: string, args: readonly string[], n: number): void {
  const extra = args[n];
  if (extra !== undefined) throw new UsageError(cmd, `unexpected argument '${extra}'${n === 0 ? ' (it takes none)' : ''}`);
}

function callRequest(args: readonly string[]): Request {
  const [method, raw] = args;
  if (method === undefined || method === '') throw new UsageError('call', 'METHOD is missing');
  atMost('call', args, 2);
  if (raw === undefined) return { kind: 'call', method, params: undefined };
  let params: unknown;
  try {
    params = JSON.parse(raw);
  } catch (err) {
    throw new UsageError('call', `JSON_PARAMS is not valid JSON (${(err as Error).message})`);
  }
  if (params === null || typeof params !== 'object') throw new UsageError('call', `JSON_PARAMS must be a JSON object or array, got ${raw}`);
  // Parsed only to check it: a 64-bit integer would come out of JSON.parse rounded. In valid
  // JSON a line break can only be whitespace, so the text fits on one request line without them.
  return { kind: 'call', method, params: raw.replace(/[\r\n]+/g, ' ').trim() };
}

/** The request for client command `cmd`; throws UsageError on a bad argument. */
export function requestFor(cmd: string, args: readonly string[], now: string): Request {
  const control = (message: ControlMessage): Request => ({ kind: 'control', message });
  switch (cmd) {
    case 'call':
      return callRequest(args);
    case 'status':
      atMost(cmd, args, 0);
      return control({ type: 'status' });
    case 'pause': {
      atMost(cmd, args, 1);
      const raw = args[0];
      if (raw === undefined) return control({ type: 'pause' });
      if (!/^\d{1,9}$/.test(raw)) throw new UsageError(cmd, `SECONDS must be a whole number of seconds, got '${raw}'`);
      return control({ type: 'pause', seconds: Number(raw) });
    }
    case 'metrics':
      atMost(cmd, args, 0);
      return { kind: 'metrics' };
    case 'resume':
      atMost(cmd, args, 0);
      return control({ type: 'resume' });
    case 'sleep':
      return control({ type: 'user_initiated_sleep', reason: args.join(' ') || 'cli', ts: now });
    case 'wake':
      atMost(cmd, args, 0);
      return control({ type: 'force_wake', ts: now });
    case 'rem':
      atMost(cmd, args, 0);
      return control({ type: 'force_rem', ts: now });
    case 'reload':
      atMost(cmd, args, 0);
      // The daemon's own JSON-RPC extension (rpc. names are reserved for them): its answer says whether the new module loaded.
      return { kind: 'call', method: 'rpc.reload', params: undefined };
    case 'session-open': {
      atMost(cmd, args, 1);
      const sid = args[0];
      return control(sid === undefined ? { type: 'session_open', ts: now } : { type: 'session_open', session_id: sid, ts: now });
    }
    default:
      throw new UsageError(null, `unknown command '${cmd}'`);
  }
}
