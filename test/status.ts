/**
 * A daemon's `status` reply, typed, for tests that read its numbers. Its
 * shape is checked once, against the type and docs/protocol.md, by
 * status-reply.test.ts; here it is only read.
 */
import type { SocketStatusReply } from '../src/lifecycle/status-reply.js';
import { roundTrip } from './helper.js';

/** Asks the daemon on `socket` for its status on a connection of its own. */
export async function status(socket: string): Promise<SocketStatusReply> {
  return (await roundTrip(socket, { type: 'status' })) as unknown as SocketStatusReply;
}
