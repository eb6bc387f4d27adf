/**
 * The CLI entry: the only module that reads argv and decides exit codes.
 * It reads the command table, parses the command's own flags, and only then
 * imports what that command needs: a client command never loads the daemon,
 * the pool, the store or the logger; `serve` never loads the bench.
 */
import { parseFlags, wantsHelp } from './cli/args.js';
import { CLIENT_FLAGS, COMMANDS, USAGE, helpFor, serveFlags } from './cli/commands.js';
import { UsageError, stdio, type Io } from './cli/io.js';
import { requestFor } from './cli/requests.js';
import { BENCH_ENTRY_URL } from './paths.js';
import { VERSION } from './version.js';

export type { Io };

async function runCommand(name: string, args: readonly string[], io: Io, env: NodeJS.ProcessEnv): Promise<number> {
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) throw new UsageError(null, name.startsWith('-') ? `unknown option ${name}` : `unknown command '${name}'`);
  if (command.kind === 'bench') {
    const { runBench } = (await import(BENCH_ENTRY_URL.href)) as typeof import('../bench/run.js');
    return runBench([...args], io);
  }
  if (wantsHelp(args)) {
    io.out(helpFor(name, command));
    return 0;
  }
  if (command.kind === 'serve') {
    const { values, positionals } = parseFlags(name, args, serveFlags());
    if (positionals[0] !== undefined) throw new UsageError(name, `unexpected argument '${positionals[0]}' (serve takes options only)`);
    const { serve } = await import('./cli/serve.js');
    return serve(values, io, env);
  }
  const { values, positionals } = parseFlags(name, args, CLIENT_FLAGS);
  const request = requestFor(name, positionals, new Date().toISOString());
  const { runClient, where } = await import('./cli/client-commands.js');
  return runClient(request, where(name, values, env), io);
}

/** Runs the CLI; resolves with the exit status. */
export async function run(argv: readonly string[], io: Io = stdio, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [first, ...rest] = argv;
  try {
    switch (first) {
      case undefined:
        io.err(USAGE);
        return 2;
      case '--help':
      case '-h':
        io.out(USAGE);
        return 0;
      case '--version':
      case '-v':
        io.out(`${VERSION}\n`);
        return 0;
      case 'help': {
        // `help --help` and `help pause -h` ask for help too: they print it, not a usage error.
        const [topic, extra] = rest.filter((a) => a !== '--help' && a !== '-h');
        if (extra !== undefined) throw new UsageError('help', `unexpected argument '${extra}'`);
        if (topic === undefined) {
          io.out(USAGE);
          return 0;
        }
        return await runCommand(topic, ['--help'], io, env);
      }
      default:
        return await runCommand(first, rest, io, env);
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(err.line());
    return 2;
  }
}
