/**
 * The CI load test: the real daemon process under 64 connections × 200 mixed
 * requests (fast, slow, invalid, control, some clients leaving mid-call).
 * Invariants only — never a machine-dependent time, except one generous bound
 * on control latency while the pool is saturated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Conn, FIXTURE, roundTrip, spawnCli, tmpHome, waitForSocket, sleep } from './helper.js';
import { status as statusReply } from './status.js';

const CONNECTIONS = 64;
const REQUESTS = 200;

type Kind = 'fast' | 'slow' | 'invalid' | 'control' | 'unknown';
const kindOf = (i: number): Kind => (['fast', 'fast', 'fast', 'fast', 'fast', 'fast', 'slow', 'invalid', 'control', 'unknown'] as const)[i % 10] as Kind;

function request(k: number, i: number): string {
  const id = `${k}-${i}`;
  switch (kindOf(i)) {
    case 'fast':
      return JSON.stringify({ jsonrpc: '2.0', id, method: 'echo', params: { k, i } });
    case 'slow':
      return JSON.stringify({ jsonrpc: '2.0', id, method: 'sleep', params: { ms: 5 } });
    case 'invalid':
      return JSON.stringify({ jsonrpc: '2.0', id, method: 42 });
    case 'control':
      return JSON.stringify({ type: 'status' });
    case 'unknown':
      return JSON.stringify({ jsonrpc: '2.0', id, method: 'no_such_method' });
  }
}

test('64 connections × 200 mixed requests: every id answered exactly once, errors only where expected', async () => {
  const { dir, cleanup } = tmpHome();
  const sock = join(dir, 'daemon.sock');
  const daemon = spawnCli(['serve', '--home', dir, '--dispatch', FIXTURE, '--threads', '2', '--log-level', 'warn']);
  try {
    await waitForSocket(sock);
    const mem = async (): Promise<number> => (await statusReply(sock)).memory.rss_bytes;
    const rssBefore = await mem();

    // A probe keeps asking for status while the load runs.
    let probing = true;
    let worstStatusMs = 0;
    let statusAnswers = 0;
    const probe = (async () => {
      const p = await Conn.open(sock);
      while (probing) {
        const t0 = performance.now();
        p.send({ type: 'status' });
        await p.waitLines(++statusAnswers, 30_000);
        worstStatusMs = Math.max(worstStatusMs, performance.now() - t0);
        await sleep(50);
      }
      p.close();
    })();

    const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => Conn.open(sock)));
    const leavers = new Set([3, 17, 42, 60]);
    conns.forEach((c, k) => {
      const n = leavers.has(k) ? REQUESTS / 2 : REQUESTS;
      c.send(`${Array.from({ length: n }, (_, i) => request(k, i)).join('\n')}\n`);
    });
    // Some clients leave mid-call.
    await sleep(30);
    for (const k of leavers) conns[k]?.close();

    await Promise.all(conns.map((c, k) => (leavers.has(k) ? Promise.resolve() : c.waitLines(REQUESTS, 60_000).then(() => undefined))));
    probing = false;
    await probe;

    for (const [k, c] of conns.entries()) {
      if (leavers.has(k)) continue;
      await sleep(0);
      assert.equal(c.lines.length, REQUESTS, `connection ${k}: exactly ${REQUESTS} answers`);
      const seen = new Map<string, Record<string, unknown>>();
      let controls = 0;
      for (const line of c.lines) {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (!('jsonrpc' in msg)) {
          assert.equal(msg.ok, true);
          controls++;
          continue;
        }
        const id = msg.id as string;
        assert.equal(seen.has(id), false, `id ${id} answered twice`);
        seen.set(id, msg);
      }
      assert.equal(controls, REQUESTS / 10);
      for (let i = 0; i < REQUESTS; i++) {
        const kind = kindOf(i);
        if (kind === 'control') continue;
        const msg = seen.get(`${k}-${i}`);
        assert.ok(msg, `id ${k}-${i} answered`);
        const code = (msg.error as { code?: number } | undefined)?.code;
        if (kind === 'fast') assert.deepEqual(msg.result, { k, i }, JSON.stringify(msg));
        if (kind === 'slow') assert.equal(code, undefined);
        if (kind === 'invalid') assert.equal(code, -32600);
        if (kind === 'unknown') assert.equal(code, -32601);
      }
    }
    for (const c of conns) c.close();
    assert.ok(statusAnswers > 0);
    assert.ok(worstStatusMs < 2000, `status kept answering under load (worst ${worstStatusMs.toFixed(1)} ms)`);

    // Still serving, and memory back near where it started.
    await sleep(500);
    assert.deepEqual(await roundTrip(sock, { jsonrpc: '2.0', id: 'after', method: 'echo', params: [1] }), { jsonrpc: '2.0', id: 'after', result: [1] });
    const rssAfter = await mem();
    assert.ok(rssAfter < rssBefore + 256 * 1024 * 1024, `rss before ${rssBefore >> 20} MiB, after ${rssAfter >> 20} MiB`);
    const status = await statusReply(sock);
    assert.equal(status.connections.active, 1);
    assert.equal(status.pool.queue_size, 0);
  } finally {
    daemon.proc.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
    cleanup();
  }
});
