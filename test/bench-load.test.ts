/**
 * The bench's closed-loop client: its cheap path reads a response's id and
 * outcome without parsing the line, so it must agree with a full parse, and
 * count every answer, error and loss against a real daemon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closedLoop, scanResponse } from '../bench/load.js';
import { startDispatchd, withProc } from '../bench/procs.js';

test('scanResponse reads the id and outcome of the three servers\' lines, and declines any other shape', () => {
  assert.deepEqual(scanResponse('{"jsonrpc":"2.0","id":17,"result":{"x":1}}'), { id: 17, failed: false });
  assert.deepEqual(scanResponse('{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"result"}}'), { id: 3, failed: true });
  assert.deepEqual(scanResponse('{"jsonrpc": "2.0", "id": 12, "result": null}'), { id: 12, failed: false });
  assert.deepEqual(scanResponse('{"jsonrpc": "2.0", "id": 5, "error": {"code": -32001}}'), { id: 5, failed: true });
  for (const other of ['{"type":"status"}', '{"jsonrpc":"2.0","id":"a","result":1}', '{"jsonrpc":"2.0","id":null,"error":{}}', '{"id":1,"jsonrpc":"2.0","result":1}', '{"jsonrpc":"2.0","id":1}']) {
    assert.equal(scanResponse(other), null, other);
  }
});

test('closedLoop against the daemon: results and errors counted apart, errors by code, nothing lost', async () => {
  await withProc(startDispatchd(), async (d) => {
    const ok = await closedLoop(d.socket, { connections: 2, pipeline: 4, ms: 300, method: 'echo', params: { x: 1 } });
    assert.ok(ok.calls > 0);
    assert.equal(ok.errors, 0);
    assert.equal(ok.lost, 0);
    const bad = await closedLoop(d.socket, { connections: 2, pipeline: 4, ms: 300, method: 'no_such_method', params: () => ({ n: 1 }) });
    // An error answer is never a completed call: no rate, no latency, counted by code.
    assert.equal(bad.calls, 0);
    assert.equal(bad.callsPerSec, 0);
    assert.equal(bad.latency.count, 0);
    assert.ok(bad.errors > 0);
    assert.deepEqual(bad.codes, { '-32601': bad.errors });
    assert.equal(bad.lost, 0);
  });
});
