/**
 * The root pino logger (SPEC §8): JSON to stderr, pretty when stderr is a
 * TTY or --pretty. Everyone else gets a child of it.
 */
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';

export type { Logger };

type PrettyFactory = (opts: Record<string, unknown>) => NodeJS.WritableStream;

/**
 * pino-pretty (and the colour and date libraries under it) is loaded only
 * when pretty output is chosen: a daemon under a supervisor logs JSON and
 * should not pay for it at every start. It is CommonJS, so a synchronous
 * require keeps createLogger synchronous.
 */
function loadPretty(): PrettyFactory {
  const required = createRequire(import.meta.url)('pino-pretty') as PrettyFactory | { default: PrettyFactory };
  return typeof required === 'function' ? required : required.default;
}

export function createLogger(config: Pick<Config, 'logLevel' | 'pretty'>, stderrIsTTY = process.stderr.isTTY === true): Logger {
  const opts = { level: config.logLevel, base: { pid: process.pid }, name: 'dispatchd' };
  if (config.pretty || stderrIsTTY) {
    const pretty = loadPretty();
    return pino(opts, pretty({ destination: 2, sync: true, colorize: stderrIsTTY, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(opts, pino.destination({ dest: 2, sync: false }));
}
