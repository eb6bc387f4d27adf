/**
 * One request, one answer: what a CLI command needs from the daemon. The
 * library's Client keeps a connection, matches ids and reconnects; a command
 * that sends one line and exits needs none of that, only the line reader
 * every client shares (and no stream module to load).
 */
import { createConnection } from 'node:net';
import { CallTimeoutError, DaemonUnreachableError, ErrorCode, RpcError, type ClientKind } from '../contract/errors.js';
import { LineReader } from '../client/lines.js';
import { parseJson } from '../wire/lossless.js';

export interface AskOptions {
  readonly socket: string;
  readonly connectTimeoutMs: number;
  /** No answer this long after connecting → -32005 timeout (a daemon is there; it has not answered yet); 0 waits. */
  readonly answerTimeoutMs: number;
}

/** Sends `line` and resolves with the first line the daemon answers, parsed. */
export function ask(line: string, o: AskOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = createConnection(o.socket);
    let connected = false;
    let answered = false;
    const timeout = (): void => {
      finish();
      reject(new CallTimeoutError(o.answerTimeoutMs));
    };
    // A socket with no daemon refuses at once (ENOENT, ECONNREFUSED); one that keeps a connect
    // waiting has a listener, just a busy one: under the user's own --timeout-ms that is a timeout.
    let timer = setTimeout(
      () => (o.answerTimeoutMs > 0 ? timeout() : fail(`connect to ${o.socket} timed out after ${o.connectTimeoutMs} ms`, 'connect_timeout')),
      o.connectTimeoutMs,
    );
    const finish = (): void => {
      clearTimeout(timer);
      s.removeAllListeners();
      s.on('error', () => {});
      s.destroy();
    };
    const fail = (why: string, kind: Exclude<ClientKind, 'timeout'>, errno?: string): void => {
      finish();
      reject(new DaemonUnreachableError(why, kind, errno));
    };
    s.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      if (o.answerTimeoutMs > 0) timer = setTimeout(timeout, o.answerTimeoutMs);
      s.write(`${line}\n`);
    });
    // The first whole line is the answer; one cut short by the end of the connection is not (no `lines.end()`).
    const lines = new LineReader((text) => {
      if (answered) return;
      answered = true;
      finish();
      try {
        // Losslessly, like the library's Client: a 64-bit integer in a result stays exact (a bigint).
        resolve(parseJson(text));
      } catch {
        reject(new RpcError(ErrorCode.Internal, `the daemon answered something that is not JSON: ${text.slice(0, 200)}`, { malformed: true }));
      }
    });
    s.on('data', (chunk: Buffer) => lines.write(chunk));
    s.on('error', (err: NodeJS.ErrnoException) =>
      connected ? fail(`socket error: ${err.code ?? err.message}`, 'connection_lost', err.code) : fail(`${err.code ?? err.message} on ${o.socket}`, 'connect_failed', err.code),
    );
    s.on('end', () => fail('connection closed by the daemon before it answered', 'connection_lost'));
  });
}
