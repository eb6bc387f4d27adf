/**
 * The root pino logger (SPEC §8): JSON to stderr, pretty when stderr is a
 * TTY or --pretty. Everyone else gets a child of it.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.js';

export type { Logger };

export function createLogger(config: Pick<Config, 'logLevel' | 'pretty'>, stderrIsTTY = process.stderr.isTTY === true): Logger {
  const opts = { level: config.logLevel, base: { pid: process.pid }, name: 'dispatchd' };
  if (config.pretty || stderrIsTTY) {
    return pino(opts, pretty({ destination: 2, sync: true, colorize: stderrIsTTY, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(opts, pino.destination({ dest: 2, sync: false }));
}
