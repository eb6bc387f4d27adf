/**
 * Flag parsing for one command: node's parseArgs in its lenient mode, then
 * our own checks, so every mistake becomes a one-line UsageError that names
 * the flag (node's strict-mode messages are paragraphs about `--`).
 */
import { parseArgs } from 'node:util';
import { UsageError } from './io.js';

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
}

export type Flags = Readonly<Record<string, FlagSpec>>;

export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean>>;
  readonly positionals: readonly string[];
}

/** True when `--help`/`-h` appears before any `--`: the command then does nothing but print its help. */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

export function parseFlags(command: string, args: readonly string[], flags: Flags): Parsed {
  const { tokens } = parseArgs({ args: [...args], options: { ...flags }, allowPositionals: true, strict: false, tokens: true });
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const spec = Object.hasOwn(flags, t.name) ? flags[t.name] : undefined;
    if (spec === undefined) throw new UsageError(command, `unknown option ${t.rawName}`);
    if (spec.type === 'string') {
      // `--socket --home DIR` is a forgotten value, not a socket named --home (`--socket=-x` says so explicitly).
      if (t.value === undefined || (t.inlineValue === false && t.value.startsWith('-'))) throw new UsageError(command, `option ${t.rawName} needs a value`);
      values[t.name] = t.value;
    } else {
      if (t.inlineValue === true) throw new UsageError(command, `option ${t.rawName} takes no value`);
      values[t.name] = true;
    }
  }
  return { values, positionals };
}
