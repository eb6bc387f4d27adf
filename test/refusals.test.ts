/**
 * Every refusal names its call: deep params as deep as the original takes
 * are served; a too-deep request is answered with its own id, whatever
 * stands around it; a bad element of a batch fails alone; refusals carry
 * data a program can read, and the client library settles each call with
 * its own answer. Against a real server on a temp socket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../src/client/client.js';
import { DEFAULTS } from '../src/config.js';
import { ErrorCode, RpcError } from '../src/contract/errors.js';
import { Conn } from './helper.js';
import { sharedTeardown, startDaemon, tempDir, type Running } from './daemons.js';

type Reply = { id: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };

function nested(depth: number): { text: string; value: unknown } {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return { text: `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`, value };
}

describe('depth, with the default bound', () => {
  let d: Running;
  const suite = sharedTeardown(after);
  before(async () => {
    d = await startDaemon(suite, { threads: 2 });
  });

  test('the default bound is at least what the original takes (its test: 100 levels)', () => {
    assert.ok(DEFAULTS.maxDepth >= 100, `${DEFAULTS.maxDepth}`);
  });

  test('params nested 100 deep are echoed (the original test_nested_depth_100_echoed)', async () => {
    const c = await Conn.open(d.socket);
    try {
      // 100 levels of params inside the envelope object.
      const { text, value } = nested(99);
      c.send(`{"jsonrpc":"2.0","id":100,"method":"echo","params":${text}}\n`);
      const r = (await c.json(1, 10_000)) as Reply;
      assert.equal(r.id, 100);
      assert.deepEqual(r.result, value);
    } finally {
      c.close();
    }
  });

  test('params at the bound are echoed too', async () => {
    const c = await Conn.open(d.socket);
    try {
      const { text, value } = nested(DEFAULTS.maxDepth - 1);
      c.send(`{"jsonrpc":"2.0","id":"edge","method":"echo","params":${text}}\n`);
      const r = (await c.json(1, 10_000)) as Reply;
      assert.equal(r.id, 'edge');
      assert.deepEqual(r.result, value);
    } finally {
      c.close();
    }
  });

  test('10 000 deep: answered with its id, the main thread is not held, another connection’s call succeeds', async () => {
    const other = await Conn.open(d.socket);
    const c = await Conn.open(d.socket);
    try {
      other.send(`{"jsonrpc":"2.0","id":"slow","method":"sleep","params":{"ms":300}}\n`);
      const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
      const lines = [
        `{"jsonrpc":"2.0","id":18446744073709551617,"method":"echo","params":${deep}}`,
        `{"jsonrpc":"2.0","method":"echo","params":${deep},"id":"after the deep part"}`,
        `{"jsonrpc":"2.0","method":"echo","params":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
      ];
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      c.send(`${lines.join('\n')}\n`);
      await c.waitLines(3, 10_000);
      h.disable();
      // The daemon runs in this process: its main thread is this event loop.
      assert.ok(h.max / 1e6 <= 50, `event loop held ${(h.max / 1e6).toFixed(1)} ms`);
      assert.ok(c.lines[0]?.startsWith('{"jsonrpc":"2.0","id":18446744073709551617,"error":'), c.lines[0]);
      const second = JSON.parse(c.lines[1] as string) as Reply;
      assert.equal(second.id, 'after the deep part');
      for (const line of c.lines) {
        const r = JSON.parse(line) as Reply;
        assert.equal(r.error?.code, ErrorCode.InvalidRequest);
        assert.deepEqual(r.error?.data, { bound: 'max_depth', limit: DEFAULTS.maxDepth });
      }
      // The third has no id: an invalid request is answered all the same (JSON-RPC 2.0), with id null.
      assert.equal((JSON.parse(c.lines[2] as string) as Reply).id, null);
      // The other connection's call is untouched.
      const slow = (await other.json(1, 10_000)) as Reply;
      assert.deepEqual(slow, { jsonrpc: '2.0', id: 'slow', result: { slept: 300 } });
    } finally {
      c.close();
      other.close();
    }
  });

  test('a batch [deep, 5 echoes]: five results and one error carrying the id "deep"', async () => {
    const c = await Conn.open(d.socket);
    try {
      const deep = `{"jsonrpc":"2.0","id":"deep","method":"echo","params":${'['.repeat(5000)}${']'.repeat(5000)}}`;
      const echoes = Array.from({ length: 5 }, (_, i) => JSON.stringify({ jsonrpc: '2.0', id: i, method: 'echo', params: [i] }));
      c.send(`[${[deep, ...echoes].join(',')}]\n`);
      const replies = JSON.parse((await c.waitLines(1, 10_000))[0] as string) as Reply[];
      assert.equal(replies.length, 6);
      const [first, ...rest] = replies;
      assert.equal(first?.id, 'deep');
      assert.equal(first?.error?.code, ErrorCode.InvalidRequest);
      assert.deepEqual(first?.error?.data, { bound: 'max_depth', limit: DEFAULTS.maxDepth });
      assert.deepEqual(
        rest.map((r) => [r.id, r.result]),
        [0, 1, 2, 3, 4].map((i) => [i, [i]]),
      );
    } finally {
      c.close();
    }
  });
});

// Small bounds, so every refusal is cheap to provoke.
const LIMITS = { maxDepth: 8, maxLineBytes: 2048, maxMethodBytes: 16, maxBatchLength: 16 } as const;

/** Id forms: the exact text sent, which must come back as is. */
const ID_FORMS = ['7', '-0', '18446744073709551617', '-9223372036854775809', '1.5e3', '1E-400', '"deep"', '"a\\"b\\u00e9"', '""'] as const;

/** Refusal kinds, as the text of a request with id `id` (a member placed first or last). */
const KINDS = {
  deep: (id: string, last: boolean): string => env(id, last, `"method":"echo","params":${'['.repeat(LIMITS.maxDepth)}${']'.repeat(LIMITS.maxDepth)}`),
  method: (id: string, last: boolean): string => env(id, last, `"method":"${'m'.repeat(LIMITS.maxMethodBytes + 1)}"`),
  params: (id: string, last: boolean): string => env(id, last, '"method":"echo","params":5'),
  jsonrpc: (id: string, last: boolean): string => (last ? `{"jsonrpc":"1.0","method":"echo","id":${id}}` : `{"id":${id},"jsonrpc":"1.0","method":"echo"}`),
  long: (id: string): string => `{"jsonrpc":"2.0","id":${id},"method":"echo","params":["${'x'.repeat(LIMITS.maxLineBytes)}"]}`,
} as const;
type Kind = keyof typeof KINDS;

const EXPECTED_DATA: Record<Kind, unknown> = {
  deep: { bound: 'max_depth', limit: LIMITS.maxDepth },
  method: { bound: 'max_method_bytes', limit: LIMITS.maxMethodBytes },
  params: { invalid: 'params' },
  jsonrpc: { invalid: 'jsonrpc' },
  long: { bound: 'max_line_bytes', limit: LIMITS.maxLineBytes },
};

function env(id: string, last: boolean, rest: string): string {
  return last ? `{"jsonrpc":"2.0",${rest},"id":${id}}` : `{"jsonrpc":"2.0","id":${id},${rest}}`;
}

describe('refusals carry the id, in every form and position', () => {
  let d: Running;
  const suite = sharedTeardown(after);
  before(async () => {
    d = await startDaemon(suite, { threads: 2, ...LIMITS });
  });

  test('property: refusal kind × id form × id position × place in a batch', async () => {
    const element = fc.record({
      kind: fc.constantFrom<Exclude<Kind, 'long'>>('deep', 'method', 'params', 'jsonrpc'),
      id: fc.constantFrom(...ID_FORMS),
      last: fc.boolean(),
    });
    const c = await Conn.open(d.socket);
    let answered = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            // A single line (the line-length bound applies only to whole lines).
            fc.record({ single: fc.constant(true as const), kind: fc.constantFrom<Kind>('deep', 'method', 'params', 'jsonrpc', 'long'), id: fc.constantFrom(...ID_FORMS), last: fc.boolean() }),
            // A batch: refused elements among echoes, at any position.
            fc.record({ single: fc.constant(false as const), items: fc.array(fc.option(element, { nil: undefined }), { minLength: 1, maxLength: 6 }) }),
          ),
          async (input) => {
            if (input.single) {
              c.send(`${KINDS[input.kind](input.id, input.last)}\n`);
              const line = (await c.waitLines(++answered, 10_000))[answered - 1] as string;
              // Verbatim: the id's own text, every digit and escape.
              assert.ok(line.startsWith(`{"jsonrpc":"2.0","id":${input.id},"error":`), `${input.kind} ${input.id}: ${line.slice(0, 120)}`);
              const r = JSON.parse(line) as Reply;
              assert.equal(r.error?.code, ErrorCode.InvalidRequest);
              assert.deepEqual(r.error?.data, EXPECTED_DATA[input.kind]);
              return;
            }
            const texts = input.items.map((it, i) => (it === undefined ? JSON.stringify({ jsonrpc: '2.0', id: `mate${i}`, method: 'echo', params: [i] }) : KINDS[it.kind](it.id, it.last)));
            c.send(`[${texts.join(',')}]\n`);
            const line = (await c.waitLines(++answered, 10_000))[answered - 1] as string;
            const replies = JSON.parse(line) as Reply[];
            assert.equal(replies.length, input.items.length);
            // In the batch's order, each refused element's answer holds its id verbatim; each mate ran.
            let at = 0;
            input.items.forEach((it, i) => {
              const r = replies[i] as Reply;
              if (it === undefined) {
                assert.deepEqual([r.id, r.result], [`mate${i}`, [i]]);
                at = line.indexOf(`"id":"mate${i}","result":`, at);
                assert.ok(at > 0);
                return;
              }
              const found = line.indexOf(`{"jsonrpc":"2.0","id":${it.id},"error":`, at);
              assert.ok(found >= at, `element ${i} (${it.kind}, id ${it.id}) not answered with its id: ${line.slice(0, 300)}`);
              at = found + 1;
              assert.equal(r.error?.code, ErrorCode.InvalidRequest);
              assert.deepEqual(r.error?.data, EXPECTED_DATA[it.kind]);
            });
          },
        ),
        { numRuns: 150 },
      );
    } finally {
      c.close();
    }
  });

  test('property: the client library settles every call once, with its own answer', async () => {
    const client = new Client({ socket: d.socket, callTimeoutMs: 20_000 });
    try {
      const call = fc.constantFrom('echo', 'deep', 'method', 'params', 'long', 'sleep');
      await fc.assert(
        fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 12 }), async (calls) => {
          const outcomes = await Promise.allSettled(
            calls.map((k, i) => {
              switch (k) {
                case 'echo':
                  return client.call('echo', [i]);
                case 'sleep':
                  return client.call('sleep', { ms: 5 });
                case 'deep': {
                  let v: unknown = i;
                  for (let n = 0; n < LIMITS.maxDepth; n++) v = [v];
                  return client.call('echo', v);
                }
                case 'method':
                  return client.call('m'.repeat(LIMITS.maxMethodBytes + 1 + i));
                case 'params':
                  return client.call('echo', 5 as unknown as object);
                case 'long':
                  return client.call('echo', ['x'.repeat(LIMITS.maxLineBytes + i)]);
              }
              throw new Error(k);
            }),
          );
          outcomes.forEach((o, i) => {
            const k = calls[i] as string;
            if (k === 'echo') return assert.deepEqual(o, { status: 'fulfilled', value: [i] });
            if (k === 'sleep') return assert.deepEqual(o, { status: 'fulfilled', value: { slept: 5 } });
            assert.equal(o.status, 'rejected', `${k} #${i}`);
            const e = (o as PromiseRejectedResult).reason as unknown;
            assert.ok(e instanceof RpcError, String(e));
            assert.equal(e.code, ErrorCode.InvalidRequest, `${k} #${i}: ${e.message}`);
            assert.deepEqual(e.data, EXPECTED_DATA[k as Kind], `${k} #${i}`);
          });
        }),
        { numRuns: 60 },
      );
    } finally {
      client.close();
    }
  });

  test('a line too long with its id after the cut, or an id cut in two, gets id null', async () => {
    const c = await Conn.open(d.socket);
    try {
      const pad = 'x'.repeat(LIMITS.maxLineBytes);
      c.send(`{"jsonrpc":"2.0","method":"echo","params":["${pad}"],"id":5}\n`);
      // The id's digits run across the cut: not read (it would be another number).
      const head = `{"jsonrpc":"2.0","method":"echo","params":["${'y'.repeat(LIMITS.maxLineBytes - 60)}"],"id":`;
      c.send(`${head}${'1'.repeat(200)},"x":1}\n`);
      c.send(`[{"jsonrpc":"2.0","id":1,"method":"echo","params":["${pad}"]}]\n`);
      const replies = (await c.waitLines(3, 10_000)).map((l) => JSON.parse(l) as Reply);
      for (const r of replies) {
        assert.equal(r.id, null);
        assert.deepEqual(r.error?.data, { bound: 'max_line_bytes', limit: LIMITS.maxLineBytes });
      }
    } finally {
      c.close();
    }
  });
});

describe('logs at the right level', () => {
  test('status health checks add nothing at info; a connection that carried calls is one line', async (t) => {
    const logs: Record<string, unknown>[] = [];
    const d = await startDaemon(t, { threads: 1 }, { logs });
    const start = logs.length;
    for (let i = 0; i < 5; i++) {
      const c = await Conn.open(d.socket);
      c.send({ type: 'status' });
      await c.json(1);
      c.close();
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(logs.slice(start).map((l) => l.msg), [], 'five status checks, no info line');
    const c = await Conn.open(d.socket);
    c.send(`{"jsonrpc":"2.0","id":1,"method":"echo"}\n`);
    await c.json(1);
    c.close();
    const deadline = Date.now() + 2000;
    while (!logs.slice(start).some((l) => l.msg === 'connection closed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(logs.slice(start).map((l) => l.msg), ['connection closed']);
  });
});

describe('errors that say what happened', () => {
  // A module that throws while loading, and one that does not parse: the error names the user's file and line.
  const cases = [
    ['throws.mjs', 'const a = 1;\nfunction open() { throw new Error("no database"); }\nopen();\nexport function dispatch() {}\n', ':2:'],
    ['syntax.mjs', 'const a = 1;\nlet b = ;\nexport function dispatch() {}\n', ':2'],
  ] as const;
  for (const [name, source, line] of cases) {
    test(`a dispatch module that fails at load (${name}) is reported at its own file and line`, async (t) => {
      const dir = tempDir(t);
      const file = join(dir, name);
      writeFileSync(file, source);
      await assert.rejects(startDaemon(t, { dispatch: file, threads: 1 }, { home: join(dir, 'home') }), (e: unknown) => e instanceof Error && e.message.includes(`${file}${line}`));
    });
  }
});

describe('every error the daemon makes up carries data', () => {
  test('deadline, queue full, worker lost, result too large or not serialisable', async (t) => {
    const d = await startDaemon(t, { threads: 1, fastThreads: 0, maxQueue: 2, callDeadlineMs: 300, maxResultBytes: 1000 });
    const c = await Conn.open(d.socket);
    t.after(() => c.close());
    const send = (id: string, method: string, params: unknown = {}): void => c.send(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    send('deadline', 'sleep', { ms: 1000 });
    // One thread busy: the queue takes two, the rest are refused at once.
    for (let i = 0; i < 4; i++) send(`q${i}`, 'sleep', { ms: 1 });
    const first = (await c.waitLines(2, 10_000)).map((l) => JSON.parse(l) as Reply);
    for (const r of first) assert.deepEqual(r.error?.data, { bound: 'max_queue', limit: 2, retry_after_ms: 100 }, JSON.stringify(r));
    const all = (await c.waitLines(5, 10_000)).map((l) => JSON.parse(l) as Reply);
    const deadline = all.find((r) => r.id === 'deadline');
    assert.equal(deadline?.error?.code, ErrorCode.DeadlineExceeded);
    assert.deepEqual(deadline?.error?.data, { bound: 'call_deadline_ms', limit: 300 });
    // One at a time: the queue holds two.
    const rest = new Map<unknown, Reply>();
    for (const [id, method, params] of [['big', 'big', { bytes: 5000 }], ['bigint', 'unserialisable', {}], ['exit', 'exit', {}]] as const) {
      send(id, method, params);
      const r = JSON.parse((await c.waitLines(all.length + rest.size + 1, 20_000)).at(-1) as string) as Reply;
      rest.set(r.id, r);
    }
    assert.deepEqual(rest.get('big')?.error?.data, { bound: 'max_result_bytes', limit: 1000 });
    assert.deepEqual(rest.get('bigint')?.error?.data, { failure: 'unserialisable_result' });
    assert.equal(rest.get('exit')?.error?.code, ErrorCode.Internal);
    assert.deepEqual(rest.get('exit')?.error?.data, { failure: 'worker_stopped' });
  });
});
