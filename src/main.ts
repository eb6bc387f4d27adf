/**
 * The CLI: the only module that reads argv and the environment, installs
 * signal handlers, and decides exit codes. `serve` runs the daemon in this
 * very process (no fork), so supervisors' signals reach it.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Client } from './client.js';
import { ConfigError, DEFAULTS, FIELDS, resolveConfig, type Config, type ConfigInput } from './config.js';
import { Daemon } from './daemon.js';
import { RpcError } from './errors.js';
import { LockHeldError } from './lock.js';
import { createLogger } from './logger.js';
import { renderMetrics } from './openmetrics.js';
import { VERSION } from './version.js';

const USAGE = `dispatchd ${VERSION} — NDJSON JSON-RPC 2.0 daemon on a unix socket

usage:
  dispatchd serve [options]            run the daemon (see: dispatchd serve --help)
  dispatchd call METHOD [JSON_PARAMS]  call a method, print the result as JSON
  dispatchd status                     print the daemon's status
  dispatchd metrics                    print the status as Prometheus text metrics
  dispatchd pause [SECONDS]            pause the lifecycle scheduler
  dispatchd resume                     resume it
  dispatchd sleep [REASON]             ask for sleep (user_initiated_sleep)
  dispatchd wake                       queue a force_wake
  dispatchd rem                        queue a force_rem (one maintenance cycle)
  dispatchd session-open [SESSION_ID]  announce a session (session_open)
  dispatchd bench [scenario] [options] run the benchmark harness (see: dispatchd bench --help)

client commands take --socket PATH / --home DIR like serve does.
`;

type Out = { out: (s: string) => void; err: (s: string) => void };
const stdio: Out = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function serveHelp(): string {
  const lines = ['usage: dispatchd serve [options]', '', 'options (flag, environment variable, default):'];
  for (const [key, f] of Object.entries(FIELDS)) {
    const def = key === 'socket' ? '<home>/daemon.sock' : key === 'dispatch' ? 'built-in' : String(DEFAULTS[key as keyof typeof DEFAULTS]);
    const arg = f.kind === 'bool' ? '' : ' ' + (f.kind === 'int' ? 'N' : f.kind === 'level' ? 'LEVEL' : 'PATH');
    lines.push(`  ${(f.flag + arg).padEnd(30)} ${f.env.padEnd(34)} ${def}`, `      ${f.help}`);
  }
  return `${lines.join('\n')}\n`;
}

/** parseArgs options generated from the config fields, plus --help. */
function optionSpec(): NonNullable<ParseArgsConfig['options']> {
  const spec: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const f of Object.values(FIELDS)) spec[f.flag.slice(2)] = { type: f.kind === 'bool' ? 'boolean' : 'string' };
  return spec;
}

function configFrom(values: Record<string, unknown>): Config {
  const input: ConfigInput = {};
  for (const [key, f] of Object.entries(FIELDS)) {
    const v = values[f.flag.slice(2)];
    if (v !== undefined) input[key as keyof Config] = v as string | boolean;
  }
  return resolveConfig(input, process.env);
}

async function serve(values: Record<string, unknown>, io: Out): Promise<number> {
  const config = configFrom(values);
  const log = createLogger(config);
  // Signals are caught from the first moment: the socket answers before start() returns.
  let daemon: Daemon | undefined;
  let signals = 0;
  let requestStop!: () => void;
  const stop = new Promise<void>((resolve) => (requestStop = resolve));
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn({ signal: sig }, 'second signal: stopping now');
      void (daemon?.destroy() ?? Promise.resolve()).finally(() => process.exit(1));
      return;
    }
    log.info({ signal: sig }, 'signal received; stopping gracefully');
    requestStop();
  };
  const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  for (const sig of SIGNALS) process.on(sig, onSignal);
  try {
    daemon = await Daemon.start(config, { log, env: process.env });
  } catch (err) {
    const e = err as Error;
    log.fatal({ err: e }, `failed to start: ${e.message}`);
    io.err(`dispatchd: failed to start: ${e.message}\n`);
    for (const sig of SIGNALS) process.off(sig, onSignal);
    const code = e instanceof LockHeldError ? 75 : 1;
    // A failed start has undone what it did; should anything still hold the process, exit anyway (SPEC §6).
    setTimeout(() => process.exit(code), 1000).unref();
    return code;
  }
  const running = daemon;
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception; exiting');
    void running.destroy().finally(() => process.exit(1));
  });
  void running.finished.then(requestStop);
  await stop;
  await running.close();
  log.flush();
  return 0;
}

function clientFor(values: Record<string, unknown>): Client {
  const config = configFrom(values);
  return new Client({ socket: config.socket, connectTimeoutMs: 5000 });
}

async function clientCommand(cmd: string, args: string[], values: Record<string, unknown>, io: Out): Promise<number> {
  const client = clientFor(values);
  const now = new Date().toISOString();
  try {
    if (cmd === 'call') {
      const [method, raw] = args;
      if (method === undefined) {
        io.err('usage: dispatchd call METHOD [JSON_PARAMS]\n');
        return 2;
      }
      let params: unknown;
      if (raw !== undefined) {
        try {
          params = JSON.parse(raw);
        } catch (err) {
          io.err(`dispatchd: JSON_PARAMS is not valid JSON: ${(err as Error).message}\n`);
          return 2;
        }
      }
      const result = await client.call(method, params);
      io.out(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    }
    if (cmd === 'metrics') {
      io.out(renderMetrics(await client.control({ type: 'status' })));
      return 0;
    }
    const msg = controlMessage(cmd, args, now);
    if (msg === null) {
      io.err(USAGE);
      return 2;
    }
    const reply = await client.control(msg);
    io.out(`${JSON.stringify(reply, null, 2)}\n`);
    return reply.ok === true ? 0 : 1;
  } catch (err) {
    if (err instanceof RpcError) {
      io.err(`${JSON.stringify({ code: err.code, message: err.message, ...(err.data !== undefined ? { data: err.data } : {}) })}\n`);
      return 1;
    }
    io.err(`dispatchd: ${(err as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}

function controlMessage(cmd: string, args: string[], now: string): ({ type: string } & Record<string, unknown>) | null {
  switch (cmd) {
    case 'status':
      return { type: 'status' };
    case 'pause':
    case 'resume': {
      if (args[0] === undefined) return { type: cmd };
      const seconds = Number(args[0]);
      return Number.isInteger(seconds) ? { type: cmd, seconds } : null;
    }
    case 'sleep':
      return { type: 'user_initiated_sleep', reason: args.join(' ') || 'cli', ts: now };
    case 'wake':
      return { type: 'force_wake', ts: now };
    case 'rem':
      return { type: 'force_rem', ts: now };
    case 'session-open':
      return args[0] === undefined ? { type: 'session_open', ts: now } : { type: 'session_open', session_id: args[0], ts: now };
    default:
      return null;
  }
}

/** Runs the CLI; resolves with the exit code. */
export async function run(argv: string[], io: Out = stdio): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    io.out(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    io.out(`${VERSION}\n`);
    return 0;
  }
  if (cmd === 'bench') {
    const { runBench } = await import('../bench/run.js');
    return runBench(rest, io);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: optionSpec(), allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`dispatchd: ${(err as Error).message}\n`);
    return 2;
  }
  const values = parsed.values as Record<string, unknown>;
  try {
    if (cmd === 'serve') {
      if (values.help) {
        io.out(serveHelp());
        return 0;
      }
      if (parsed.positionals.length > 0) {
        io.err(`dispatchd serve: unexpected argument ${parsed.positionals[0]}\n`);
        return 2;
      }
      return await serve(values, io);
    }
    return await clientCommand(cmd, parsed.positionals, values, io);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`dispatchd: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
