/**
 * Runs a client command: one connection, one request, the answer printed as
 * JSON. Loads the config's path rules and a socket, nothing of the daemon.
 */
import { ConfigError, resolveConfig } from '../config.js';
import { ErrorCode, errorOfResponse, RpcError } from '../contract/errors.js';
import { stringifyJson } from '../wire/lossless.js';
import { ask } from './ask.js';
import { UsageError, type Io } from './io.js';
import type { PartialStatusReply } from '../lifecycle/status-reply.js';
import type { Request } from './requests.js';

export interface Where {
  readonly socket: string;
  readonly timeoutMs: number;
}

/** The socket from --home/--socket and DISPATCHD_HOME/DISPATCHD_SOCKET only: other options are the daemon's. */
export function where(cmd: string, values: Readonly<Record<string, string | boolean>>, env: NodeJS.ProcessEnv): Where {
  const input: Record<string, string> = {};
  if (typeof values.home === 'string') input.home = values.home;
  if (typeof values.socket === 'string') input.socket = values.socket;
  const paths: NodeJS.ProcessEnv = {};
  for (const key of ['DISPATCHD_HOME', 'DISPATCHD_SOCKET']) if (env[key] !== undefined) paths[key] = env[key];
  let socket: string;
  try {
    socket = resolveConfig(input, paths).socket;
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(cmd, err.message);
    throw err;
  }
  const raw = values['timeout-ms'];
  if (raw === undefined) return { socket, timeoutMs: 0 };
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw)) throw new UsageError(cmd, `--timeout-ms must be a whole number of milliseconds, got '${String(raw)}'`);
  return { socket, timeoutMs: Number(raw) };
}

/**
 * What the user can do about a client-side failure, read from its data.
 * Only "no daemon there" suggests starting one; a daemon that was reached
 * but did not answer in time is running, and starting another would fail.
 */
function hint(socket: string, err: RpcError, timeoutMs: number): string | null {
  const data = (err.data ?? {}) as { client?: unknown; errno?: unknown };
  if (err.code === ErrorCode.Timeout) {
    return `hint: the daemon on ${socket} is running but did not answer within ${timeoutMs} ms; the call may still be running there. Raise --timeout-ms, or see \`dispatchd status\`.\n`;
  }
  if (err.code !== ErrorCode.DaemonUnreachable) return null;
  if (data.client === 'connection_lost') return `hint: the daemon on ${socket} closed the connection before it answered; its log says why.\n`;
  const nothingThere = data.client === 'connect_failed' && (data.errno === 'ENOENT' || data.errno === 'ECONNREFUSED');
  const lead = nothingThere ? `no daemon is listening on ${socket}` : `nothing accepted a connection on ${socket} in time`;
  return `hint: ${lead}. Start one with \`dispatchd serve\` (same --home/--socket), \`npm start\` in a checkout, or \`systemctl --user start dispatchd.socket\` under systemd.\n`;
}

/** The line a request is sent as. */
function lineOf(request: Request): string {
  if (request.kind === 'control') return JSON.stringify(request.message);
  if (request.kind === 'metrics') return JSON.stringify({ type: 'status' });
  const { method, params } = request;
  const head = `{"jsonrpc":"2.0","id":1,"method":${JSON.stringify(method)}`;
  return params === undefined ? `${head}}` : `${head},"params":${params}}`;
}

export async function runClient(request: Request, at: Where, io: Io): Promise<number> {
  const connectTimeoutMs = at.timeoutMs > 0 ? Math.min(at.timeoutMs, 5000) : 5000;
  try {
    const answer = await ask(lineOf(request), { socket: at.socket, connectTimeoutMs, answerTimeoutMs: at.timeoutMs });
    // A JSON-RPC error answer (to a call, or the daemon's one line when it refuses a connection).
    const error = errorOfResponse(answer);
    if (error !== null) throw error;
    if (request.kind === 'metrics') {
      const { renderMetrics } = await import('../observability/openmetrics.js');
      // A daemon's status reply (an error answer was thrown above); renderMetrics leaves out whatever it lacks.
      io.out(renderMetrics(answer as PartialStatusReply));
      return 0;
    }
    const shown = request.kind === 'call' ? (answer as { result?: unknown }).result ?? null : answer;
    io.out(`${stringifyJson(shown, 2)}\n`);
    return request.kind === 'call' || (answer as { ok?: unknown }).ok === true ? 0 : 1;
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    io.err(`${stringifyJson(err.toJSON())}\n`);
    const help = hint(at.socket, err, at.timeoutMs);
    if (help !== null) io.err(help);
    return 1;
  }
}
