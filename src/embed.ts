/**
 * `dispatchd/daemon`: the daemon for embedding in a process of your own.
 * Kept apart from the package root so a dispatch module that imports
 * `dispatchd` (once per worker thread) does not load the daemon, the pool
 * and the logger with it.
 */
export { Daemon, type DaemonOptions } from './daemon.js';
export { resolveConfig, DEFAULTS, ConfigError, type Config, type ConfigInput } from './config.js';
