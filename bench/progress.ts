/**
 * Progress while the bench runs: a bar on a terminal; in CI (not a TTY)
 * one quiet line each time a new step starts, on stderr so the report on
 * stdout stays clean.
 */
import cliProgress from 'cli-progress';
import type { Progress } from './types.js';

export interface ProgressReporter {
  readonly report: Progress;
  /** A line of its own (a failed scenario), shown without breaking the bar. */
  line(text: string): void;
  stop(): void;
}

export function progressReporter(io: { err: (s: string) => void }, tty: boolean = process.stderr.isTTY === true): ProgressReporter {
  const bar = tty ? new cliProgress.SingleBar({ format: '{label} [{bar}] {percentage}%', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic) : null;
  let current = '';
  return {
    report: (label, frac) => {
      if (label !== current) {
        current = label;
        if (bar) {
          bar.stop();
          bar.start(100, 0, { label: label.padEnd(36) });
        } else io.err(`bench: ${label}\n`);
      }
      bar?.update(Math.round(Math.min(1, frac) * 100), { label: label.padEnd(36) });
    },
    line: (text) => {
      bar?.stop();
      current = '';
      io.err(`${text}\n`);
    },
    stop: () => bar?.stop(),
  };
}
