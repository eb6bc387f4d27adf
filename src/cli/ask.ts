/**
 * One request, one answer: what a CLI command needs from the daemon. The
 * library's Client keeps a connection, matches ids and reconnects; a command
 * that sends one line and exits needs none of that, nor split2 (a CommonJS
 * stream module whose load is a tenth of `dispatchd status`'s whole budget).
 */
import { createConnection } from 'node:net';
import { DaemonUnreachableError, ErrorCode, RpcError } from '../errors.js';
import { parseJson } from '../lossless.js';

export interface AskOptions {
  readonly socket: string;
  readonly connectTimeoutMs: number;
  /** No answer this long after connecting → daemon_unreachable; 0 waits. */
  readonly answerTimeoutMs: number;
}

/** Sends `line` and resolves with the first line the daemon answers, parsed. */
export function ask(line: string, o: AskOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = createConnection(o.socket);
    const chunks: Buffer[] = [];
    let connected = false;
    let timer = setTimeout(() => fail(`connect to ${o.socket} timed out after ${o.connectTimeoutMs} ms`), o.connectTimeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      s.removeAllListeners();
      s.on('error', () => {});
      s.destroy();
    };
    const fail = (why: string): void => {
      finish();
      reject(new DaemonUnreachableError(why));
    };
    s.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      if (o.answerTimeoutMs > 0) timer = setTimeout(() => fail(`no answer within ${o.answerTimeoutMs} ms`), o.answerTimeoutMs);
      s.write(`${line}\n`);
    });
    s.on('data', (chunk: Buffer) => {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        chunks.push(chunk);
        return;
      }
      chunks.push(chunk.subarray(0, nl));
      finish();
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        // Losslessly, like the library's Client: a 64-bit integer in a result stays exact (a bigint).
        resolve(parseJson(text));
      } catch {
        reject(new RpcError(ErrorCode.Internal, `the daemon answered something that is not JSON: ${text.slice(0, 200)}`));
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => fail(connected ? `socket error: ${err.code ?? err.message}` : `${err.code ?? err.message} on ${o.socket}`));
    s.on('end', () => fail('connection closed by the daemon before it answered'));
  });
}
