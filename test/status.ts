/**
 * A daemon's `status` reply, typed, for tests that read its numbers. Its
 * shape is checked once, against the type and docs/protocol.md, by
 * status-reply.test.ts; here it is only read.
 */
import assert from 'node:assert/strict';
import type { SocketStatusReply } from '../src/lifecycle/status-reply.js';
import { roundTrip } from './helper.js';

/** Asks the daemon on `socket` for its status on a connection of its own. */
export async function status(socket: string): Promise<SocketStatusReply> {
  return (await roundTrip(socket, { type: 'status' })) as unknown as SocketStatusReply;
}

/** Polls the status on `socket` until `done` holds; fails after `ms`, showing the part `shown` picks of the last reply. */
export async function statusUntil<T>(
  socket: string,
  shown: (s: SocketStatusReply) => T,
  done: (part: T) => boolean,
  ms: number,
): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const part = shown(await status(socket));
    if (done(part)) return part;
    assert.ok(performance.now() < deadline, `not within ${ms} ms: ${JSON.stringify(part)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
