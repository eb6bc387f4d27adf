/**
 * The edge against the real server (SPEC §2, §6): each line bound hit, ids
 * back byte for byte, params reaching dispatch as the client wrote them,
 * one ordering rule for control messages wherever they appear, and a
 * status that stays small whatever clients sent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn, roundTrip, startDaemon, rpc, sleep, type Running } from './helper.js';
import { ErrorCode } from '../src/contract/errors.js';
import type { SocketStatusReply } from '../src/lifecycle/status-reply.js';
import { status } from './status.js';
import { ConfigError, DEFAULTS, resolveConfig } from '../src/config.js';

const code = (r: Record<string, unknown>): number | undefined => (r.error as { code?: number } | undefined)?.code;
const message = (r: Record<string, unknown>): string => (r.error as { message?: string } | undefined)?.message ?? '';

let d: Running;
before(async () => {
  d = await startDaemon({ threads: 2, maxBatchLength: 5, maxDepth: 6, maxMethodBytes: 16, maxReplyBytes: 2048 });
});
after(() => d.close());

async function one(line: string): Promise<string> {
  const c = await Conn.open(d.socket);
  try {
    c.send(`${line}\n`);
    return (await c.waitLines(1))[0] as string;
  } finally {
    c.close();
  }
}

describe('the line bounds are options', () => {
  test('finite defaults; flags and environment variables set them; nonsense is refused', () => {
    for (const k of ['maxBatchLength', 'maxDepth', 'maxMethodBytes', 'maxReplyBytes'] as const) assert.ok(Number.isSafeInteger(DEFAULTS[k]) && DEFAULTS[k] > 0, k);
    const env = { DISPATCHD_MAX_BATCH_LENGTH: '5', DISPATCHD_MAX_DEPTH: '9', DISPATCHD_MAX_METHOD_BYTES: '7', DISPATCHD_MAX_REPLY_BYTES: '4096' };
    const c = resolveConfig({ maxDepth: 12 }, env);
    assert.deepEqual([c.maxBatchLength, c.maxDepth, c.maxMethodBytes, c.maxReplyBytes], [5, 12, 7, 4096]);
    assert.throws(() => resolveConfig({ maxDepth: 1 }), ConfigError);
    assert.throws(() => resolveConfig({ maxBatchLength: 0 }), ConfigError);
    assert.throws(() => resolveConfig({}, { DISPATCHD_MAX_REPLY_BYTES: 'lots' }), ConfigError);
  });
});

describe('bounds, each hit', () => {
  test('a batch longer than maxBatchLength is one -32600 with id null', async () => {
    const batch = JSON.stringify(Array.from({ length: 6 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'echo' })));
    const r = JSON.parse(await one(batch)) as Record<string, unknown>;
    assert.equal(code(r), ErrorCode.InvalidRequest);
    assert.equal(r.id, null);
    assert.deepEqual((r.error as { data?: unknown }).data, { bound: 'max_batch_length', limit: 5 });
    const ok = JSON.parse(await one(JSON.stringify(Array.from({ length: 5 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'echo' }))))) as unknown[];
    assert.equal(ok.length, 5);
  });

  test('a 1 MiB line of zeros is answered with one short line', async () => {
    const zeros = `[${Array(500_000).fill('0').join(',')}]`;
    const line = await one(zeros);
    assert.ok(line.length < 200, line.slice(0, 200));
    assert.equal(code(JSON.parse(line) as Record<string, unknown>), ErrorCode.InvalidRequest);
  });

  test('nesting deeper than maxDepth is -32600 with the id, and nothing runs', async () => {
    const before = await status(d.socket);
    const deep = `{"jsonrpc":"2.0","id":9,"method":"echo","params":${'['.repeat(6)}${']'.repeat(6)}}`;
    const r = JSON.parse(await one(deep)) as Record<string, unknown>;
    assert.equal(code(r), ErrorCode.InvalidRequest);
    assert.equal(r.id, 9);
    assert.deepEqual((r.error as { data?: unknown }).data, { bound: 'max_depth', limit: 6 });
    const tenK = `{"jsonrpc":"2.0","id":9,"method":"echo","params":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const t = JSON.parse(await one(tenK)) as Record<string, unknown>;
    assert.equal(code(t), ErrorCode.InvalidRequest);
    assert.equal(t.id, 9);
    const after = await status(d.socket);
    assert.equal(after.pool.completed, before.pool.completed);
    // At the limit it runs.
    const ok = JSON.parse(await one(`{"jsonrpc":"2.0","id":9,"method":"echo","params":${'['.repeat(5)}${']'.repeat(5)}}`)) as Record<string, unknown>;
    assert.deepEqual(ok.result, [[[[[]]]]]);
  });

  test('a method name over maxMethodBytes is -32600 with the id echoed', async () => {
    const line = await one(`{"jsonrpc":"2.0","id":18446744073709551617,"method":"${'m'.repeat(17)}"}`);
    assert.ok(line.includes('"id":18446744073709551617'), line);
    const r = JSON.parse(line) as Record<string, unknown>;
    assert.equal(code(r), ErrorCode.InvalidRequest);
    assert.deepEqual((r.error as { data?: unknown }).data, { bound: 'max_method_bytes', limit: 16 });
    // A megabyte-long name costs one short answer.
    const huge = await one(`{"jsonrpc":"2.0","id":"h","method":"${'m'.repeat(1_000_000)}"}`);
    assert.ok(huge.length < 200);
  });

  test('a reply past maxReplyBytes: each answer that does not fit is a small -32001 for its id', async () => {
    const big = (id: number): object => ({ jsonrpc: '2.0', id, method: 'big', params: { bytes: 900 } });
    const arr = JSON.parse(await one(JSON.stringify([big(1), big(2), big(3), big(4)]))) as Record<string, unknown>[];
    assert.equal(arr.length, 4, 'one element per request');
    assert.deepEqual(arr.map((r) => r.id).sort(), [1, 2, 3, 4]);
    const fitted = arr.filter((r) => typeof r.result === 'string');
    const refused = arr.filter((r) => code(r) === ErrorCode.Internal && (r.error as { data?: { bound?: string } }).data?.bound === 'max_reply_bytes');
    assert.equal(fitted.length, 2);
    assert.equal(refused.length, 2);
    // A single answer too.
    const single = JSON.parse(await one(JSON.stringify({ jsonrpc: '2.0', id: 'one', method: 'big', params: { bytes: 4096 } }))) as Record<string, unknown>;
    assert.equal(single.id, 'one');
    assert.equal(code(single), ErrorCode.Internal);
  });
});

describe('what the client sent is what it gets back', () => {
  const FORMS = ['18446744073709551617', '-0', '1.0', '1E2', '1e+2', '1e-400', '0.5', '1e3', '12345678901234567890', '"\\u0041"', '"ü"'];

  test('every id form comes back byte for byte, with duplicate keys elsewhere in the line', async () => {
    for (const id of FORMS) {
      const single = await one(`{"jsonrpc":"2.0","id":${id},"method":"echo","params":{"a":1,"a":2}}`);
      assert.ok(single.startsWith(`{"jsonrpc":"2.0","id":${id},"result":`), `${id}: ${single}`);
      const batch = await one(`[{"jsonrpc":"2.0","id":1,"method":"echo","x":0,"x":1},{"jsonrpc":"2.0","id":${id},"method":"echo"}]`);
      assert.ok(batch.includes(`{"jsonrpc":"2.0","id":${id},"result":{}}`), `${id}: ${batch}`);
    }
  });

  test('params reach dispatch as JSON.parse reads them (last duplicate wins)', async () => {
    const r = JSON.parse(await one('{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1,"a":2,"\\u0062":"é","n":1e-400}}')) as Record<string, unknown>;
    assert.deepEqual(r.result, { a: 2, b: 'é', n: 0 });
    const arr = JSON.parse(await one('{"jsonrpc":"2.0","id":1,"method":"echo","params":[1,"x",null]}')) as Record<string, unknown>;
    assert.deepEqual(arr.result, [1, 'x', null]);
  });
});

describe('one ordering rule for control messages', () => {
  test('a pause inside a batch is answered before a later status, and status sees it', async () => {
    for (let i = 0; i < 20; i++) {
      const c = await Conn.open(d.socket);
      try {
        c.send(`[{"type":"${i % 2 === 0 ? 'pause' : 'resume'}"}]\n{"type":"status"}\n`);
        // Ordering, not speed: each round writes state.json twice (fsync), which a machine busy with disk I/O can stretch to seconds.
        const [first, second] = (await c.waitLines(2, 30_000)).map((l) => JSON.parse(l) as unknown);
        assert.ok(Array.isArray(first), `round ${i}: batch first`);
        assert.equal((second as Record<string, unknown>).scheduler_paused, i % 2 === 0);
      } finally {
        c.close();
      }
    }
  });

  test('a batch holding a control message is written before any later control reply, slow calls and all', async () => {
    const c = await Conn.open(d.socket);
    try {
      c.send('[{"type":"pause"},{"jsonrpc":"2.0","id":1,"method":"sleep","params":{"ms":300}}]\n{"type":"resume"}\n');
      const [first, second] = (await c.waitLines(2)).map((l) => JSON.parse(l) as unknown);
      assert.ok(Array.isArray(first));
      assert.deepEqual(first[0], { ok: true, paused: true });
      assert.deepEqual(second, { ok: true, paused: false });
    } finally {
      c.close();
    }
  });

  test('controls inside one batch run in batch order', async () => {
    const r = JSON.parse(await one('[{"type":"pause"},{"type":"status"},{"type":"resume"},{"type":"status"}]')) as Record<string, unknown>[];
    assert.equal(r[1]?.scheduler_paused, true);
    assert.equal(r[3]?.scheduler_paused, false);
  });

  test('a batch of only JSON-RPC calls waits on nothing', async () => {
    const c = await Conn.open(d.socket);
    try {
      c.send(`${JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'sleep', params: { ms: 400 } }])}\n{"type":"status"}\n`);
      const first = JSON.parse((await c.waitLines(1))[0] as string) as Record<string, unknown>;
      assert.equal(first.ok, true, 'status before the slow batch');
      await c.waitLines(2);
    } finally {
      c.close();
    }
  });
});

describe('status stays small', () => {
  test('many distinct long method names leave status small; event_loop health is reported', async () => {
    const c = await Conn.open(d.socket);
    try {
      for (let i = 0; i < 200; i++) c.send(rpc(i, `${i}-${'n'.repeat(10_000)}`));
      await c.waitLines(200, 20_000);
    } finally {
      c.close();
    }
    await sleep(10);
    const c2 = await Conn.open(d.socket);
    try {
      c2.send('{"type":"status"}\n');
      const line = (await c2.waitLines(1))[0] as string;
      assert.ok(line.length < 64 * 1024, `status is ${line.length} bytes`);
      const loop = (JSON.parse(line) as SocketStatusReply).event_loop;
      for (const k of ['utilization', 'delay_p99_ms', 'delay_max_ms'] as const) assert.equal(typeof loop[k], 'number', k);
    } finally {
      c2.close();
    }
  });
});

describe('the built-in store never silently changes what it acknowledges', () => {
  let s: Running;
  before(async () => {
    s = await startDaemon({ dispatch: null, threads: 1 });
  });
  after(() => s.close());

  test('lone surrogates in stored text are refused with -32602 naming the field; pairs are stored exactly', async () => {
    const send = (params: string): Promise<Record<string, unknown>> => roundTrip(s.socket, `{"jsonrpc":"2.0","id":1,"method":"memory_capture","params":${params}}\n`);
    for (const [params, field] of [
      ['{"text":"lone \\ud800 surrogate"}', 'text'],
      ['{"text":"ok","tags":["a\\udc00"]}', 'tags'],
      ['{"text":"ok","session_id":"\\ud800"}', 'session_id'],
    ] as const) {
      const r = await send(params);
      assert.equal(code(r), ErrorCode.InvalidParams, params);
      assert.match(message(r), new RegExp(`'${field}'`));
    }
    const ok = await send('{"text":"pair \\ud83d\\ude00 kept"}');
    const id = (ok.result as { id: number }).id;
    const got = await roundTrip(s.socket, { jsonrpc: '2.0', id: 2, method: 'memory_get', params: { id } });
    assert.equal((got.result as { text: string }).text, 'pair \u{1f600} kept');
  });
});
