/**
 * dispatchd as a library: what a dispatch module author needs (errors and
 * types), the client, and the daemon for embedding.
 */
export {
  ErrorCode,
  RpcError,
  MethodNotFoundError,
  InvalidParamsError,
  OverloadedError,
  DeadlineExceededError,
  DaemonUnreachableError,
  requireParam,
  type WireError,
} from './errors.js';
export { claimCompletion, type DispatchModule } from './contract.js';
export { Client, type ClientOptions } from './client.js';
export { Daemon, type DaemonOptions } from './daemon.js';
export { resolveConfig, DEFAULTS, type Config, type ConfigInput } from './config.js';

/** The signature of a dispatch function (SPEC §5): sync or async. */
export type DispatchFn = (method: string, params: unknown) => unknown;
