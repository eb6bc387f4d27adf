/**
 * The command table: what each command takes and says about itself. Data
 * only, so `--help` and `--version` load nothing but this.
 */
import { DEFAULTS, FIELDS } from '../config.js';
import { VERSION } from '../version.js';
import type { Flags } from './args.js';

/** Where a command runs: the daemon itself, a client of a running daemon, or the bench. */
export type CommandKind = 'serve' | 'client' | 'bench';

export interface Command {
  readonly kind: CommandKind;
  /** Positional arguments, as shown in usage lines. */
  readonly args: string;
  readonly summary: string;
  /** More about the arguments and what is sent, for `COMMAND --help`. */
  readonly detail?: string;
}

export const COMMANDS: Readonly<Record<string, Command>> = Object.freeze({
  serve: { kind: 'serve', args: '[options]', summary: 'run the daemon in this process' },
  call: {
    kind: 'client',
    args: 'METHOD [JSON_PARAMS]',
    summary: 'call a method, print the result as JSON',
    detail: 'JSON_PARAMS is one JSON object or array (default: none). The result goes to stdout;\nan error reply goes to stderr as one JSON line, exit status 1.',
  },
  status: { kind: 'client', args: '', summary: "print the daemon's status" },
  metrics: { kind: 'client', args: '', summary: "print the daemon's status as Prometheus text metrics" },
  pause: { kind: 'client', args: '[SECONDS]', summary: 'pause the lifecycle scheduler', detail: 'SECONDS, a whole number, is passed on in the pause message.' },
  resume: { kind: 'client', args: '', summary: 'resume the lifecycle scheduler' },
  sleep: { kind: 'client', args: '[REASON...]', summary: 'ask for sleep (user_initiated_sleep)', detail: 'REASON words are joined with spaces (default: cli).' },
  wake: { kind: 'client', args: '', summary: 'queue a force_wake' },
  rem: { kind: 'client', args: '', summary: 'queue a force_rem (one maintenance cycle)' },
  'session-open': { kind: 'client', args: '[SESSION_ID]', summary: 'announce a session (session_open)' },
  reload: {
    kind: 'client',
    args: '',
    summary: 'load the dispatch module again, in new threads, with no call lost',
    detail: 'Sends rpc.reload. New calls run the new module once this returns; calls already running finish\non the old threads. If the module fails to load, nothing changes: the error goes to stderr, exit status 1.\nSIGUSR2 to the daemon does the same (systemctl reload).',
  },
  bench: { kind: 'bench', args: '[SCENARIO...] [options]', summary: 'run the benchmark harness (see dispatchd bench --help)' },
});

/** What every client command takes: where the daemon is, and how long to wait. */
export const CLIENT_FLAGS: Flags = Object.freeze({
  home: { type: 'string' },
  socket: { type: 'string' },
  'timeout-ms': { type: 'string' },
});

/** serve takes one flag per config field. */
export function serveFlags(): Flags {
  const flags: Record<string, Flags[string]> = {};
  for (const f of Object.values(FIELDS)) flags[f.flag.slice(2)] = { type: f.kind === 'bool' ? 'boolean' : 'string' };
  return flags;
}

const usageLine = (name: string, c: Command): string => `dispatchd ${name}${c.args ? ` ${c.args}` : ''}`;

export const USAGE = `dispatchd ${VERSION} — NDJSON JSON-RPC 2.0 daemon on a unix socket

usage: dispatchd COMMAND [ARGS] [OPTIONS]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${usageLine(name, c).slice('dispatchd '.length).padEnd(34)} ${c.summary}`)
  .join('\n')}
  ${'help [COMMAND]'.padEnd(34)} this text, or a command's

options:
  -h, --help       this text; after a command, that command's help (the command is not run)
  -v, --version    print the version

Client commands find the daemon with --home DIR or --socket PATH (or DISPATCHD_HOME,
DISPATCHD_SOCKET); serve takes every option in \`dispatchd serve --help\`.
Exit status: 0 done, 1 error reply or no daemon, 2 usage error, 75 (serve) home locked.
`;

function clientHelp(name: string, c: Command): string {
  return `usage: ${usageLine(name, c)} [--home DIR | --socket PATH] [--timeout-ms N]

${c.summary}.${c.detail ? `\n${c.detail}` : ''}

options:
  --home DIR        the daemon's home (env DISPATCHD_HOME, default ~/.dispatchd)
  --socket PATH     its socket (env DISPATCHD_SOCKET, default <home>/daemon.sock)
  --timeout-ms N    give up after N ms without an answer: -32005, exit status 1 (default 0: wait)
  -h, --help        this text

Exit status: 0 done, 1 error reply or no daemon answering, 2 usage error.
`;
}

function serveHelp(): string {
  const lines = ['usage: dispatchd serve [options]', '', 'Runs the daemon in this process until SIGTERM/SIGINT/SIGHUP.', '', 'options (flag, environment variable, default):'];
  for (const [key, f] of Object.entries(FIELDS)) {
    const def = key === 'socket' ? '<home>/daemon.sock' : key === 'dispatch' ? 'built-in' : String(DEFAULTS[key as keyof typeof DEFAULTS]);
    const arg = f.kind === 'bool' ? '' : ' ' + (f.kind === 'int' ? 'N' : f.kind === 'level' ? 'LEVEL' : 'PATH');
    lines.push(`  ${(f.flag + arg).padEnd(30)} ${f.env.padEnd(34)} ${def}`, `      ${f.help}`);
  }
  lines.push('', 'Exit status: 0 stopped cleanly, 1 failed to start, 2 bad option, 75 another daemon holds the home.');
  return `${lines.join('\n')}\n`;
}

/** The help of one command (bench prints its own). */
export function helpFor(name: string, c: Command): string {
  return c.kind === 'serve' ? serveHelp() : clientHelp(name, c);
}
