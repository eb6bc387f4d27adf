/** The client library: ids matched, -32002 when the socket dies, one reconnect. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from '../src/client/client.js';
import { ErrorCode, RpcError } from '../src/contract/errors.js';
import { startDaemon, tempDir, onTeardown, type Teardown } from './daemons.js';

test('calls and control messages; errors carry the server code', async (t) => {
  const d = await startDaemon(t, { threads: 1 });
  const client = new Client({ socket: d.socket });
  t.after(() => client.close());
  const results = await Promise.all([client.call('echo', { a: 1 }), client.call('sleep', { ms: 50 }), client.call('echo', [2])]);
  assert.deepEqual(results, [{ a: 1 }, { slept: 50 }, [2]]);
  assert.equal((await client.control({ type: 'status' })).ok, true);
  await assert.rejects(client.call('nope'), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.MethodNotFound);
});

test('pending calls reject with -32002 when the daemon goes; the next call reconnects once', async (t) => {
  const d = await startDaemon(t, { threads: 1 });
  const client = new Client({ socket: d.socket, connectTimeoutMs: 1000 });
  t.after(() => client.close());
  assert.deepEqual(await client.call('echo', [1]), [1]);
  const pending = assert.rejects(client.call('sleep', { ms: 2000 }), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.DaemonUnreachable && /daemon_unreachable/.test(e.message));
  await new Promise((r) => setTimeout(r, 100));
  await d.daemon.destroy();
  await pending;
  await assert.rejects(client.call('echo'), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.DaemonUnreachable);
  await d.restart();
  assert.deepEqual(await client.call('echo', [3]), [3], 'reconnected');
});

test('close() rejects calls and control requests still waiting with -32002', async (t) => {
  const d = await startDaemon(t, { threads: 1 });
  const client = new Client({ socket: d.socket });
  await client.connect();
  const unreachable = (e: unknown): boolean => e instanceof RpcError && e.code === ErrorCode.DaemonUnreachable;
  const call = client.call('sleep', { ms: 1000 });
  const ctl = client.control({ type: 'status' });
  client.close();
  await assert.rejects(call, unreachable);
  await assert.rejects(ctl, unreachable);
  await assert.rejects(client.call('echo'), unreachable, 'a closed client makes no new calls');
  client.close(); // idempotent
});

test('params that cannot be sent reject that call alone; bigints are sent as their digits', async (t) => {
  const d = await startDaemon(t, { threads: 1 });
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));
  const client = new Client({ socket: d.socket });
  // A bigint read from a reply can be sent back (the fixture's worker parses it as a double).
  assert.deepEqual(await client.call('echo', { n: 18446744073709551617n }), { n: 18446744073709552000n });
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  await assert.rejects(client.call('echo', cycle), TypeError);
  await assert.rejects(client.control({ type: 'status', cycle }), TypeError);
  // The refused control message left nothing queued: the next reply goes to the next request.
  const next = await Promise.race([client.control({ type: 'pause' }), new Promise((resolve) => setTimeout(() => resolve('no reply'), 3000))]);
  assert.deepEqual(next, { ok: true, paused: true });
  client.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(unhandled, [], 'close() rejected a promise nobody held');
});

/** A one-shot NDJSON server that answers each request line with `reply(id)`. */
async function fakeServer(t: Teardown, reply: (id: number, line: string) => string | null): Promise<string> {
  const path = join(tempDir(t), 'fake.sock');
  const server = createServer((s) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        const { id } = JSON.parse(line) as { id: number };
        buf = buf.slice(i + 1);
        const answer = reply(id, line);
        if (answer !== null) s.write(`${answer}\n`);
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  onTeardown(t, () => server.close());
  return path;
}

test('results and errors are parsed losslessly: unsafe integers arrive as bigint, __proto__ as an own key', async (t) => {
  const path = await fakeServer(t, (id) =>
    id === 1
      ? `{"jsonrpc":"2.0","id":1,"result":{"big":18446744073709551617,"neg":-9007199254740993,"safe":9007199254740991,"float":1.5,"exp":1e3,"__proto__":{"x":1},"list":[123456789012345678901234567890]}}`
      : `{"jsonrpc":"2.0","id":${id},"error":{"code":-32001,"message":"boom","data":{"row":18446744073709551615}}}`,
  );
  const client = new Client({ socket: path });
  t.after(() => client.close());
  const r = (await client.call('any')) as Record<string, unknown>;
  assert.equal(r.big, 18446744073709551617n);
  assert.equal(r.neg, -9007199254740993n);
  assert.equal(r.safe, 9007199254740991);
  assert.equal(r.float, 1.5);
  assert.equal(r.exp, 1000);
  assert.deepEqual(r.list, [123456789012345678901234567890n]);
  assert.ok(Object.hasOwn(r, '__proto__'));
  assert.deepEqual(r['__proto__'], { x: 1 });
  assert.equal(Object.getPrototypeOf(r), Object.prototype);
  await assert.rejects(client.call('other'), (e: unknown) => e instanceof RpcError && e.code === -32001 && (e.data as { row: unknown }).row === 18446744073709551615n);
});

test('a call the daemon refuses (too long, too deep) rejects with the refusal, by its id; the calls beside it are answered', async (t) => {
  const d = await startDaemon(t, { threads: 1, maxLineBytes: 4096, maxDepth: 8 });
  const client = new Client({ socket: d.socket, callTimeoutMs: 10_000 });
  t.after(() => client.close());
  let deep: unknown = 1;
  for (let i = 0; i < 20; i++) deep = [deep];
  const [before, long, nested, after] = await Promise.allSettled([
    client.call('sleep', { ms: 200 }),
    client.call('echo', { text: 'x'.repeat(10_000) }),
    client.call('echo', deep),
    client.call('echo', [1]),
  ]);
  assert.deepEqual(before, { status: 'fulfilled', value: { slept: 200 } });
  assert.equal(long?.status, 'rejected');
  assert.ok(long.status === 'rejected' && long.reason instanceof RpcError && long.reason.code === ErrorCode.InvalidRequest, String(long.status === 'rejected' ? long.reason : ''));
  assert.deepEqual(long.reason.data, { bound: 'max_line_bytes', limit: 4096 });
  assert.ok(nested?.status === 'rejected' && nested.reason instanceof RpcError && nested.reason.code === ErrorCode.InvalidRequest);
  assert.deepEqual(nested.reason.data, { bound: 'max_depth', limit: 8 });
  assert.deepEqual(after, { status: 'fulfilled', value: [1] });
});

test('a refusal for a call that already timed out is not given to another call pending at the time', async (t) => {
  // One call in flight: reading pauses, so the long line is refused only after the sleep, when both have timed out.
  const d = await startDaemon(t, { threads: 1, maxLineBytes: 4096, maxInFlight: 1 });
  const client = new Client({ socket: d.socket, callTimeoutMs: 400 });
  t.after(() => client.close());
  const timedOut = (e: unknown): boolean => e instanceof RpcError && e.code === ErrorCode.Timeout;
  const slow = client.call('sleep', { ms: 1200 });
  await new Promise((r) => setTimeout(r, 50));
  const long = client.call('echo', { text: 'x'.repeat(10_000) });
  await assert.rejects(slow, timedOut);
  await assert.rejects(long, timedOut);
  await new Promise((r) => setTimeout(r, 500));
  // Sent before the refusal of the long line arrives, answered after it.
  assert.deepEqual(await client.call('echo', [1]), [1]);
});

test('an id-null refusal is matched by the bound its data names, whatever its words', async (t) => {
  // A server that cannot read ids answers every line with a refusal for the line-length bound at 100 bytes.
  const path = await fakeServer(t, (_id, line) =>
    line.length > 100 ? '{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"wording of its own","data":{"bound":"max_line_bytes","limit":100}}}' : null,
  );
  const client = new Client({ socket: path, callTimeoutMs: 2000 });
  t.after(() => client.close());
  const short = client.call('echo', [1]);
  const long = client.call('echo', ['x'.repeat(200)]);
  await assert.rejects(long, (e: unknown) => e instanceof RpcError && e.code === ErrorCode.InvalidRequest && (e.data as { bound?: string }).bound === 'max_line_bytes');
  // The short line passes no bound: it is never given the refusal (it times out, as this server never answers it).
  await assert.rejects(short, (e: unknown) => e instanceof RpcError && e.code === ErrorCode.Timeout);
});

test('an id-null refusal without data this client can read goes to the one call pending', async (t) => {
  const path = await fakeServer(t, () => '{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"request refused for a reason of its own"}}');
  const client = new Client({ socket: path, callTimeoutMs: 10_000 });
  t.after(() => client.close());
  await assert.rejects(client.call('echo', [1]), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.InvalidRequest);
});
