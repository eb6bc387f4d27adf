/**
 * The one way a test starts a daemon: in this process on a temp socket
 * (`startDaemon`), or the built CLI as a child process (`spawnDaemon`). Each
 * registers its teardown on the test's `after` right after starting
 * (fastify's `t.after(close)`), so an assertion that fails first never
 * leaks a daemon, a child process or a temp home.
 *
 * Teardowns run last-registered first whatever order node runs its hooks
 * in: a daemon stops before the home it writes to is removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { resolveConfig, type Config, type ConfigInput } from '../src/config.js';
import { Daemon, type DaemonOptions } from '../src/daemon.js';
import { FIXTURE, killChild, silent, spawnCli, type Child } from './helper.js';

/** What a test registers its teardown on: its `t`, or `sharedTeardown(after)` for a daemon a whole file or suite shares. */
export interface Teardown {
  after(fn: () => unknown): void;
}

const stacks = new WeakMap<Teardown, (() => unknown)[]>();

/** Runs `fn` after the test, before everything registered on `t` earlier. */
export function onTeardown(t: Teardown, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (stack === undefined) {
    const fns: (() => unknown)[] = [];
    stacks.set(t, fns);
    t.after(async () => {
      // Every teardown runs even when one fails; the first failure is reported.
      let failure: unknown = null;
      for (const f of fns.reverse()) {
        try {
          await f();
        } catch (err) {
          failure ??= err;
        }
      }
      if (failure !== null) throw failure;
    });
    stack = fns;
  }
  stack.push(fn);
}

/**
 * The teardown of a daemon a whole file or suite shares: call it at the top
 * level or in the `describe` body with node:test's `after`, then start the
 * daemon in `before`. (An `after` first called inside a root-level `before`
 * would run as soon as that hook ends.)
 */
export function sharedTeardown(after: (fn: () => unknown) => void): Teardown {
  const hooks: (() => unknown)[] = [];
  after(async () => {
    for (const hook of hooks) await hook();
  });
  return { after: (fn) => void hooks.push(fn) };
}

/** A fresh short temp dir (unix socket paths are limited to ~100 bytes), removed after the test. */
export function tempDir(t: Teardown): string {
  const dir = mkdtempSync('/tmp/dd-');
  onTeardown(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** How to start an in-process daemon, beyond its config. */
export interface StartOptions extends Partial<Omit<DaemonOptions, 'log'>> {
  /** The home to serve (default: a fresh temp dir). */
  readonly home?: string;
  /** The root logger (default: silent, or one collecting into `logs`). */
  readonly log?: Logger;
  /** Collects the daemon's log lines (at info and above). */
  readonly logs?: Record<string, unknown>[];
}

function loggerFor(opts: StartOptions): Logger {
  const { logs } = opts;
  if (opts.log !== undefined) return opts.log;
  if (logs === undefined) return silent;
  return pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
}

function launch(config: Config, opts: StartOptions): Promise<Daemon> {
  const { home: _home, logs: _logs, ...daemonOptions } = opts;
  return Daemon.start(config, { env: {}, ...daemonOptions, log: loggerFor(opts) });
}

/** A daemon in this process; `restart` stops it and starts another on the same home (and so the same socket). */
export class Running {
  readonly home: string;
  readonly #input: ConfigInput;
  readonly #opts: StartOptions;
  #config: Config;
  #daemon: Daemon;

  private constructor(home: string, input: ConfigInput, opts: StartOptions, config: Config, daemon: Daemon) {
    this.home = home;
    this.#input = input;
    this.#opts = opts;
    this.#config = config;
    this.#daemon = daemon;
  }

  /** See `startDaemon`. */
  static async start(t: Teardown, input: ConfigInput, opts: StartOptions): Promise<Running> {
    const home = opts.home ?? tempDir(t);
    const full: ConfigInput = { home, dispatch: FIXTURE, threads: 2, ...input };
    const config = resolveConfig(full, {});
    const running = new Running(home, full, opts, config, await launch(config, opts));
    onTeardown(t, () => running.close());
    return running;
  }

  /** The daemon running now (the latest, after a restart). */
  get daemon(): Daemon {
    return this.#daemon;
  }

  get config(): Config {
    return this.#config;
  }

  get socket(): string {
    return this.#config.socket;
  }

  /** Stops the daemon (gracefully; a no-op once stopped) and starts a new one with `input` over the first config. */
  async restart(input: ConfigInput = {}, opts: StartOptions = {}): Promise<Daemon> {
    await this.#daemon.close();
    this.#config = resolveConfig({ ...this.#input, ...input }, {});
    this.#daemon = await launch(this.#config, { ...this.#opts, ...opts });
    return this.#daemon;
  }

  /** Stops the daemon running now, gracefully (teardown does this too). */
  close(): Promise<boolean> {
    return this.#daemon.close();
  }
}

/**
 * Starts a daemon in this process: the fixture dispatch module, two threads
 * and an empty environment unless `input` / `opts` say otherwise. It is
 * closed (and a fresh home removed) after the test.
 */
export function startDaemon(t: Teardown, input: ConfigInput = {}, opts: StartOptions = {}): Promise<Running> {
  return Running.start(t, input, opts);
}

/**
 * Runs the built CLI as a long-lived child (a daemon, or a command that
 * waits on one); it is killed after the test if it still runs. A test that
 * kills it mid-test keeps this as its safety net.
 */
export function spawnDaemon(t: Teardown, args: string[], env: NodeJS.ProcessEnv = {}, opts: { shell?: string } = {}): Child {
  const child = spawnCli(args, env, opts);
  onTeardown(t, () => killChild(child));
  return child;
}
