/**
 * dispatchd as a library, for dispatch module authors: the errors that pick
 * a JSON-RPC code, the module's types, the client, and the types of the
 * `status` reply. This entry is imported once per worker thread by every
 * module that uses it, so it loads nothing heavy; the daemon itself is
 * `dispatchd/daemon`.
 */
export {
  ErrorCode,
  RpcError,
  MethodNotFoundError,
  InvalidParamsError,
  OverloadedError,
  DeadlineExceededError,
  DaemonUnreachableError,
  CallTimeoutError,
  errorOfResponse,
  boundOf,
  requireParam,
  type WireError,
  type BoundData,
  type BoundName,
} from './contract/errors.js';
export type { DispatchFn, DispatchModule, Lane } from './pool/module.js';
export { claimCompletion, guardNative } from './contract/contract.js';
export { Client, type ClientOptions } from './client/client.js';
export type {
  StatusReply,
  SocketStatusReply,
  PartialStatusReply,
  OriginalStatus,
  DaemonMetrics,
  PendingDigest,
  PoolStatus,
  LanesStatus,
  MethodStatus,
  LatencySummary,
  ConnectionsStatus,
  StdioConnectionsStatus,
  SchedulerStatus,
  CycleRecord,
  MemoryStatus,
  EventLoopHealth,
} from './lifecycle/status-reply.js';
