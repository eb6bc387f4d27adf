/**
 * `dispatchd serve`: the daemon in this very process (no fork), so
 * supervisors' signals reach it. The only place that installs signal
 * handlers and turns a failed start into an exit status.
 */
import { claimHome, type Claim } from '../lifecycle/claim.js';
import { ConfigError, FIELDS, resolveConfig, type Config, type ConfigInput } from '../config.js';
import type { Daemon } from '../daemon.js';
import { LockHeldError } from '../host/lock.js';
import type { Logger } from '../observability/logger.js';
import type { Io } from './io.js';

/** Exit status when another daemon holds the home (EX_TEMPFAIL: retrying later may work). */
const EXIT_LOCKED = 75;

function configFrom(values: Readonly<Record<string, string | boolean>>, env: NodeJS.ProcessEnv): Config {
  const input: ConfigInput = {};
  for (const [key, f] of Object.entries(FIELDS)) {
    const v = values[f.flag.slice(2)];
    if (v !== undefined) input[key as keyof Config] = v;
  }
  return resolveConfig(input, env);
}

/** A second stop signal ends the process within this long, whatever still runs (ms). */
const SECOND_SIGNAL_EXIT_MS = 2000;

export async function serve(values: Readonly<Record<string, string | boolean>>, io: Io, env: NodeJS.ProcessEnv): Promise<number> {
  let config: Config;
  try {
    config = configFrom(values, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`dispatchd serve: ${err.message}; see dispatchd serve --help\n`);
    return 2;
  }
  // Signals are caught from the first moment: the socket answers before start() returns.
  let log: Logger | undefined;
  let daemon: Daemon | undefined;
  let signals = 0;
  let requestStop!: () => void;
  const stop = new Promise<void>((resolve) => (requestStop = resolve));
  // A stop asked for while the module still loads ends the start at once (a supervisor waits only so long).
  const starting = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    starting.abort();
    if (signals > 1) {
      log?.warn({ signal: sig }, 'second signal: stopping now');
      // At once (SPEC §4): the stop waits for threads inside native code, but never past this.
      setTimeout(() => process.exit(1), SECOND_SIGNAL_EXIT_MS).unref();
      void (daemon?.destroy() ?? Promise.resolve()).finally(() => process.exit(1));
      return;
    }
    log?.info({ signal: sig }, 'signal received; stopping gracefully');
    requestStop();
  };
  const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  for (const sig of SIGNALS) process.on(sig, onSignal);
  // SIGUSR2 reloads the dispatch module (SIGHUP stops, SPEC §4); the daemon logs the outcome. Taken from
  // the start, so one that arrives while the daemon starts is ignored instead of ending the process.
  process.on('SIGUSR2', () => void daemon?.reload().catch(() => {}));
  // The claim first, then the rest of the daemon: its threads boot (~40 ms) while the logger,
  // the transport and the control plane load. Nothing in the claim logs.
  let claim: Claim | Error;
  try {
    claim = await claimHome(config, { env });
  } catch (err) {
    claim = err as Error;
  }
  const [{ Daemon, StartAbortedError }, { createLogger }] = await Promise.all([import('../daemon.js'), import('../observability/logger.js')]);
  log = createLogger(config);
  try {
    if (claim instanceof Error) throw claim;
    daemon = await Daemon.start(config, { log, env, claim, signal: starting.signal, standalone: true });
  } catch (err) {
    for (const sig of SIGNALS) process.off(sig, onSignal);
    if (err instanceof StartAbortedError) {
      log.info('stopped before the start had finished');
      log.flush();
      return 0;
    }
    const code = exitStatusOf(err as Error, io, log);
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

/** Reports a failed start and picks its exit status. Expected refusals are one plain line: a stack trace says nothing more about a held lock or a bad option. */
function exitStatusOf(e: Error, io: Io, log: Logger): number {
  if (e instanceof LockHeldError) {
    io.err(`dispatchd: ${e.message}\n`);
    return EXIT_LOCKED;
  }
  if (e instanceof ConfigError) {
    io.err(`dispatchd serve: ${e.message}\n`);
    return 2;
  }
  log.fatal({ err: e }, `failed to start: ${e.message}`);
  log.flush();
  io.err(`dispatchd: failed to start: ${e.message}\n`);
  return 1;
}
