/**
 * Long-running (docs/reload.md): what a reload costs the calls around it,
 * and what recycling does for a module that leaks.
 *
 *     node dist/bench/reload.js [--rounds 3] [--ms 3000] [--leak-calls 10000]
 *
 * Row 1: closed-loop throughput (16 connections × 8 in flight, echo on the
 * bench fixture) in windows with a reload in the middle vs windows without,
 * in alternating rounds on one daemon; errors and lost calls counted.
 * Row 2: 10 000 calls to a module that keeps ~1 MiB per call, with
 * --recycle-heap-mb 64: failed calls, threads recycled, peak RSS.
 * Exits 1 if any call failed or was lost.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closedLoop, LoadConn } from './load.js';
import { rssMiB, startDispatchd, withProc } from './procs.js';

async function ask(socket: string, msg: object): Promise<Record<string, unknown>> {
  const c = await LoadConn.open(socket);
  try {
    if ('type' in msg) return (await c.control(msg)).msg;
    const m = msg as { method: string; params?: unknown };
    return (await c.call(m.method, m.params)).msg;
  } finally {
    c.close();
  }
}

interface Window {
  readonly callsPerSec: number;
  readonly errors: number;
  readonly lost: number;
}

async function window(socket: string, ms: number, reload: boolean): Promise<Window> {
  const loop = closedLoop(socket, { connections: 16, pipeline: 8, ms, method: 'echo', params: { x: 1 } });
  if (reload) {
    await new Promise((r) => setTimeout(r, ms / 2));
    const reply = await ask(socket, { method: 'rpc.reload' });
    if (reply.result === undefined) throw new Error(`reload failed: ${JSON.stringify(reply)}`);
  }
  const r = await loop;
  return { callsPerSec: r.callsPerSec, errors: r.errors, lost: r.lost };
}

export interface ReloadBench {
  readonly withoutReload: number;
  readonly withReload: number;
  readonly ratio: number;
  readonly errors: number;
  readonly lost: number;
  readonly leak: { readonly calls: number; readonly failed: number; readonly recycled: number; readonly peakRssMiB: number };
}

async function reloadBench(opts: { rounds: number; ms: number; leakCalls: number }): Promise<ReloadBench> {
  const without: number[] = [];
  const withR: number[] = [];
  let errors = 0;
  let lost = 0;
  await withProc(startDispatchd(['--threads', '4']), async (p) => {
    for (let i = 0; i < opts.rounds; i++) {
      for (const reload of i % 2 === 0 ? [false, true] : [true, false]) {
        const w = await window(p.socket, opts.ms, reload);
        (reload ? withR : without).push(w.callsPerSec);
        errors += w.errors;
        lost += w.lost;
      }
    }
  });
  const dir = mkdtempSync('/tmp/ddb-leak-');
  const leaky = join(dir, 'leaky.mjs');
  writeFileSync(
    leaky,
    `const kept = [];\nexport const lanes = { leak: 'fast' };\nexport function dispatch(method, params) {\n  kept.push(new Array(128 * 1024).fill(1));\n  return kept.length;\n}\n`,
  );
  let failed = 0;
  let peak = 0;
  let recycled = 0;
  try {
    await withProc(startDispatchd(['--threads', '2', '--recycle-heap-mb', '64'], leaky), async (p) => {
      const c = await LoadConn.open(p.socket);
      try {
        for (let sent = 0; sent < opts.leakCalls; sent += 100) {
          const replies = await Promise.all(Array.from({ length: 100 }, () => c.call('leak', {})));
          failed += replies.filter((r) => !('result' in r.msg)).length;
          peak = Math.max(peak, rssMiB(p.pid) ?? 0);
        }
      } finally {
        c.close();
      }
      const status = await ask(p.socket, { type: 'status' });
      recycled = (status.pool as { recycled_heap: number }).recycled_heap;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const a = median(without);
  const b = median(withR);
  return { withoutReload: a, withReload: b, ratio: a > 0 ? b / a : 0, errors, lost, leak: { calls: opts.leakCalls, failed, recycled, peakRssMiB: peak } };
}

async function main(): Promise<void> {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const r = await reloadBench({ rounds: arg('--rounds', 3), ms: arg('--ms', 3000), leakCalls: arg('--leak-calls', 10_000) });
  console.log(`| reload | calls/s without a reload | with a reload in the window | ratio | errors | lost |`);
  console.log(`|---|---|---|---|---|---|`);
  console.log(`| 16 conn × 8 in flight, echo | ${r.withoutReload.toFixed(0)} | ${r.withReload.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.errors} | ${r.lost} |`);
  console.log('');
  console.log(`| recycling | calls | failed | threads recycled | peak RSS |`);
  console.log(`|---|---|---|---|---|`);
  console.log(`| ~1 MiB leaked per call, --recycle-heap-mb 64 | ${r.leak.calls} | ${r.leak.failed} | ${r.leak.recycled} | ${r.leak.peakRssMiB.toFixed(0)} MiB |`);
  process.exit(r.errors + r.lost + r.leak.failed === 0 ? 0 : 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
