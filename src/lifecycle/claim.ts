/**
 * The first part of a start: take the socket activation, claim the home
 * (its checks and the lock) and start the pool's threads. Kept apart, with
 * few imports, because a thread takes ~40 ms to boot: the CLI takes the
 * claim before it loads the rest of the daemon (logger, transport, control
 * plane), so the threads boot on the other core meanwhile. Under socket
 * activation the start is the first caller's latency.
 *
 * Everything a thread must not inherit (LISTEN_*, NOTIFY_SOCKET) is taken
 * from the environment first. Nothing here logs: what is worth a warning
 * (an ignored LISTEN_FDS) is carried in the claim and logged by the daemon.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchdActivation, takeActivation, type Activation } from '../host/activation.js';
import type { Config } from '../config.js';
import { createPrivate, refuseSymlinks } from '../host/files.js';
import { prepareHome } from '../host/home.js';
import type { ActivateSocket } from '../host/launchd.js';
import { platformActivateSocket } from '../host/launchd.js';
import { acquireLock, type HeldLock } from '../host/lock.js';
import { takeNotifySocket, type NotifyTarget } from '../host/notify.js';
import { BUILTIN_STORE_URL } from '../paths.js';
import { createPool, type Pool } from '../pool/pool-setup.js';

/** How long the built-in store waits for another connection's lock (ms). */
const STORE_BUSY_MS = 5000;
/** With a call deadline, a lock wait ends this long after it. */
const STORE_BUSY_PAST_DEADLINE_MS = 250;

/** The built-in store's module URL: its database and limit travel in the query. */
function builtinStore(config: Config): string {
  const url = new URL(BUILTIN_STORE_URL);
  url.searchParams.set('db', join(config.home, 'store.db'));
  url.searchParams.set('maxText', String(config.storeMaxTextBytes));
  url.searchParams.set('binding', config.storeBinding);
  // A lock wait ends soon after the call deadline: the caller gets -32004 at the deadline, and the
  // thread (not terminated inside SQLite, see guardNative) is stopped as the wait returns.
  const busyMs = config.callDeadlineMs > 0 ? Math.min(STORE_BUSY_MS, config.callDeadlineMs + STORE_BUSY_PAST_DEADLINE_MS) : STORE_BUSY_MS;
  url.searchParams.set('busyMs', String(busyMs));
  return url.href;
}

export interface ClaimOptions {
  /** Environment to take LISTEN_* from (and clear them in). */
  readonly env?: NodeJS.ProcessEnv;
  /** launchd's socket hand-over (default: launch_activate_socket on macOS, none elsewhere). */
  readonly activateSocket?: ActivateSocket | null;
}

/** What a start holds before the daemon proper is built; `Daemon.start` owns it from then on. */
export interface Claim {
  readonly activation: Activation;
  /** NOTIFY_SOCKET, taken from the environment before the threads were started. */
  readonly notify: NotifyTarget | null;
  readonly lock: HeldLock;
  /** Its threads are booting; `pool.ready` says when the module has loaded. */
  readonly pool: Pool;
}

/** Takes the claim, or throws having undone what it did (HomeError, LockHeldError, FileKindError…). */
export async function claimHome(config: Config, opts: ClaimOptions): Promise<Claim> {
  // First, before any worker or child exists to inherit LISTEN_*.
  const fromEnv = takeActivation(opts.env ?? {}, process.pid);
  // launchd is asked only when LISTEN_* said nothing at all.
  const launchd = config.stdio || fromEnv.activated || fromEnv.reason !== null ? null : opts.activateSocket === undefined ? platformActivateSocket() : opts.activateSocket;
  const activation = launchd === null ? fromEnv : await launchdActivation(launchd);
  const notify = takeNotifySocket(opts.env ?? {});
  prepareHome(config.home);
  const lock = acquireLock(join(config.home, 'daemon.lock'));
  try {
    // SQLite opens its files by path; a link planted there must not be followed.
    if (config.dispatch === null) {
      refuseSymlinks(config.home, ['store.db', 'store.db-wal', 'store.db-shm']);
      // Created private here, before any SQLite connection exists in this process; never touched again outside SQLite.
      createPrivate(join(config.home, 'store.db'));
    }
    // Only now, under the lock: the built-in store opens its database as its thread starts.
    const pool = createPool(config, config.dispatch === null ? builtinStore(config) : pathToFileURL(config.dispatch).href);
    return { activation, notify, lock, pool };
  } catch (err) {
    lock.release();
    throw err;
  }
}
