/** The real server, in process, on a temp socket, with the fixture dispatch module. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn, FIXTURES, roundTrip, sleep, rpc } from './helper.js';
import { sharedTeardown, startDaemon, type Running } from './daemons.js';
import { ErrorCode } from '../src/contract/errors.js';

let d: Running;
const suite = sharedTeardown(after);
before(async () => {
  d = await startDaemon(suite, { threads: 4 });
});


describe('routing (SPEC §2)', () => {
  test('not JSON → -32700 with id null', async () => {
    const r = await roundTrip(d.socket, '{"jsonrpc": "2.0", "id": 1,\n');
    assert.equal(r.id, null);
    assert.equal((r.error as { code: number }).code, ErrorCode.ParseError);
    assert.equal(typeof (r.error as { message: string }).message, 'string');
  });

  test('control message → plain object, no envelope', async () => {
    const r = await roundTrip(d.socket, { type: 'status' });
    assert.equal(r.ok, true);
    assert.equal('jsonrpc' in r, false);
    assert.equal(r.fsm_state, 'WAKE');
  });

  test('a control type with a jsonrpc key takes the envelope path', async () => {
    const r = await roundTrip(d.socket, { type: 'status', jsonrpc: '2.0', id: 5 });
    assert.equal((r.error as { code: number }).code, ErrorCode.InvalidRequest);
    assert.equal(r.id, 5);
  });

  test('unknown type without jsonrpc → -32600', async () => {
    const r = await roundTrip(d.socket, { type: 'reboot' });
    assert.equal((r.error as { code: number }).code, ErrorCode.InvalidRequest);
    assert.equal(r.id, null);
  });

  test('bad envelope → -32600 with the id echoed and what is wrong', async () => {
    const r = await roundTrip(d.socket, { jsonrpc: '2.0', id: 'abc', method: 7 });
    assert.deepEqual(r, { jsonrpc: '2.0', id: 'abc', error: { code: -32600, message: 'method must be a string', data: { invalid: 'method' } } });
    const r2 = await roundTrip(d.socket, { jsonrpc: '1.0', id: 9, method: 'echo' });
    assert.deepEqual(r2.error, { code: -32600, message: "jsonrpc must be '2.0'", data: { invalid: 'jsonrpc' } });
    assert.equal(r2.id, 9);
  });

  test('valid → result; undefined → null', async () => {
    assert.deepEqual(await roundTrip(d.socket, rpc(1, 'echo', { a: [1, 'x'] })), { jsonrpc: '2.0', id: 1, result: { a: [1, 'x'] } });
    assert.deepEqual(await roundTrip(d.socket, rpc(2, 'undefined')), { jsonrpc: '2.0', id: 2, result: null });
  });

  test('params omitted → {}; params [] → []', async () => {
    assert.deepEqual((await roundTrip(d.socket, rpc(1, 'echo'))).result, {});
    assert.deepEqual((await roundTrip(d.socket, rpc(1, 'echo', []))).result, []);
  });

  const errorCases: [string, unknown, number, string | null][] = [
    ['nope', {}, ErrorCode.MethodNotFound, "unknown method 'nope'"],
    ['missing', {}, ErrorCode.InvalidParams, "missing required param: 'cue'"],
    ['invalid', {}, ErrorCode.InvalidParams, 'cue must be a string'],
    ['type_error', {}, ErrorCode.InvalidParams, 'bad type'],
    ['fail', {}, ErrorCode.Internal, 'boom'],
    ['unserialisable', {}, ErrorCode.Internal, null],
    ['circular', {}, ErrorCode.Internal, null],
    ['custom_code', {}, -32050, 'custom'],
  ];
  for (const [method, params, code, message] of errorCases) {
    test(`dispatch error: ${method} → ${code}`, async () => {
      const r = await roundTrip(d.socket, rpc(`id-${method}`, method, params));
      assert.equal(r.id, `id-${method}`);
      const e = r.error as { code: number; message: string };
      assert.equal(e.code, code);
      if (message !== null) assert.equal(e.message, message);
    });
  }
});

describe('ids', () => {
  test('echoed verbatim: big ints keep every digit, strings byte for byte', async () => {
    const c = await Conn.open(d.socket);
    const ids = ['18446744073709551617', '-18446744073709551617', '0', '42', '"abc"', '"ünï😀"', '""', '1.5'];
    for (const id of ids) c.send(`{"jsonrpc":"2.0","id":${id},"method":"echo"}\n`);
    const lines = await c.waitLines(ids.length);
    c.close();
    const seen = lines.map((l) => /^\{"jsonrpc":"2\.0","id":(.*),"result":\{\}\}$/.exec(l)?.[1]).sort();
    assert.deepEqual(seen, ids.map((id) => (id.startsWith('"') ? JSON.stringify(JSON.parse(id)) : id)).sort());
  });
});

describe('one connection', () => {
  test('keeps serving after every kind of error', async () => {
    const c = await Conn.open(d.socket);
    const bad = ['{oops\n', '[]\n', '{"jsonrpc":"2.0","id":1}\n', rpc(2, 'nope'), rpc(3, 'fail'), rpc(4, 'type_error'), '{"type":"pause","seconds":"x"}\n', '"just a string"\n'];
    for (const b of bad) c.send(b);
    c.send(rpc('last', 'echo', { ok: 1 }));
    const lines = await c.waitLines(bad.length + 1);
    c.close();
    assert.ok(lines.some((l) => l === '{"jsonrpc":"2.0","id":"last","result":{"ok":1}}'), lines.join('\n'));
  });

  test('pipelined requests: every id answered exactly once, in completion order', async () => {
    const c = await Conn.open(d.socket);
    c.send(rpc('slow', 'sleep', { ms: 300 }));
    for (let i = 0; i < 50; i++) c.send(rpc(i, 'echo', { i }));
    const lines = await c.waitLines(51);
    c.close();
    const ids = lines.map((l) => (JSON.parse(l) as { id: unknown }).id);
    assert.equal(new Set(ids).size, 51);
    assert.equal(ids[50], 'slow', 'the slow call finishes last and does not hold back the fast ones');
  });

  test('half-close: every response arrives before the server ends', async () => {
    const c = await Conn.open(d.socket);
    c.send(rpc(1, 'sleep', { ms: 200 }));
    c.send(rpc(2, 'echo'));
    c.send({ type: 'status' });
    c.socket.end(`{"jsonrpc":"2.0","id":3,"method":"echo"}`); // last line without \n
    await c.waitEnd();
    assert.equal(c.lines.length, 4);
    assert.deepEqual(c.lines.map((l) => (JSON.parse(l) as { id?: unknown }).id ?? 'status').sort(), [1, 2, 3, 'status'].sort());
  });

  test('blank lines are ignored', async () => {
    const c = await Conn.open(d.socket);
    c.send('\n   \n\r\n');
    c.send(rpc(1, 'echo'));
    const [line] = await c.waitLines(1);
    c.close();
    assert.equal(JSON.parse(line as string).id, 1);
  });

  test('control replies keep their relative order', async () => {
    const c = await Conn.open(d.socket);
    c.send({ type: 'pause' });
    c.send({ type: 'status' });
    c.send({ type: 'resume' });
    c.send({ type: 'status' });
    const replies = (await c.waitLines(4)).map((l) => JSON.parse(l) as Record<string, unknown>);
    c.close();
    assert.deepEqual(replies[0], { ok: true, paused: true });
    assert.equal(replies[1]?.scheduler_paused, true);
    assert.deepEqual(replies[2], { ok: true, paused: false });
    assert.equal(replies[3]?.scheduler_paused, false);
  });
});

describe('JSON-RPC 2.0 completeness', () => {
  test('a notification runs and gets no response', async () => {
    const c = await Conn.open(d.socket);
    c.send('{"jsonrpc":"2.0","method":"echo","params":{"n":1}}\n');
    c.send(rpc(2, 'echo'));
    await c.waitLines(1);
    await sleep(100);
    c.close();
    assert.equal(c.lines.length, 1);
    assert.equal(JSON.parse(c.lines[0] as string).id, 2);
  });

  test('a batch gets one array; notifications omitted; empty batch is one -32600', async () => {
    const c = await Conn.open(d.socket);
    c.send(`[${rpc(1, 'echo', [1]).trim()},{"jsonrpc":"2.0","method":"echo"},${rpc(2, 'nope').trim()},5]\n`);
    c.send('[]\n');
    c.send('[{"jsonrpc":"2.0","method":"echo"}]\n');
    c.send(rpc('after', 'echo'));
    const lines = await c.waitLines(3);
    await sleep(100);
    c.close();
    assert.equal(c.lines.length, 3, 'an all-notification batch sends nothing');
    const batch = JSON.parse(lines.find((l) => l.startsWith('[')) as string) as Record<string, unknown>[];
    assert.equal(batch.length, 3);
    assert.deepEqual(batch[0], { jsonrpc: '2.0', id: 1, result: [1] });
    assert.equal((batch[1]?.error as { code: number }).code, -32601);
    assert.deepEqual(batch[2], { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'request must be a JSON object', data: { invalid: 'request' } } });
    const empty = JSON.parse(lines.find((l) => l.includes('empty batch')) as string);
    assert.equal(empty.error.code, -32600);
    assert.equal(empty.id, null);
  });
});

describe('workers', () => {
  test('a worker that exits → -32001, and the next call works', async () => {
    const r = await roundTrip(d.socket, rpc(1, 'exit'));
    assert.equal((r.error as { code: number }).code, ErrorCode.Internal);
    assert.deepEqual(await roundTrip(d.socket, rpc(2, 'echo', { still: 'alive' })), { jsonrpc: '2.0', id: 2, result: { still: 'alive' } });
  });

  test('async dispatch functions are awaited', async () => {
    assert.equal((await roundTrip(d.socket, rpc(1, 'async', { ms: 5 }))).result, 'later');
  });
});

describe('head-of-line', () => {
  test('status and a fast call answer quickly while other connections run 200 ms CPU calls', async () => {
    const slow = await Promise.all([1, 2, 3].map(() => Conn.open(d.socket)));
    let stop = false;
    const loops = slow.map(async (c, k) => {
      let n = 0;
      while (!stop) {
        c.send(rpc(`s${k}-${n}`, 'spin', { ms: 200 }));
        await c.waitLines(++n, 10_000);
      }
    });
    await sleep(300);
    const probe = await Conn.open(d.socket);
    const lat: { status: number[]; echo: number[] } = { status: [], echo: [] };
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      probe.send({ type: 'status' });
      await probe.waitLines(2 * i + 1);
      lat.status.push(performance.now() - t);
      t = performance.now();
      probe.send(rpc(i, 'echo'));
      await probe.waitLines(2 * i + 2);
      lat.echo.push(performance.now() - t);
      await sleep(50);
    }
    stop = true;
    await Promise.all(loops);
    for (const c of [...slow, probe]) c.close();
    assert.ok(Math.max(...lat.status) < 100, `status latencies ${lat.status.map((x) => x.toFixed(1))}`);
    assert.ok(Math.max(...lat.echo) < 100, `echo latencies ${lat.echo.map((x) => x.toFixed(1))}`);
  });
});

describe('dispatch modules (SPEC §5)', () => {
  test('a default-exported dispatch function is served', async (t) => {
    const other = await startDaemon(t, { dispatch: `${FIXTURES}default-export.js`, threads: 1 });
    assert.deepEqual(await roundTrip(other.socket, rpc(1, 'anything', { x: 1 })), { jsonrpc: '2.0', id: 1, result: { method: 'anything', params: { x: 1 } } });
  });

  test('a module that fails to import refuses to start', async (t) => {
    await assert.rejects(startDaemon(t, { dispatch: `${FIXTURES}bad-import.js`, threads: 1 }), /fixture import failure/);
  });
});
