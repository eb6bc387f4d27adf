/**
 * The headline ratios of the project's own run, each measured in this one
 * run, with the targets they are held to (a missed target fails the run
 * unless --targets report).
 */
import type { Results } from './report.js';
import type { HolResult } from './hol.js';
import type { Headline } from './types.js';
import { startupHeadlines } from './startup.js';
import { worstHeadlines } from './abuse.js';
import { poolHeadlines } from './pool-bench.js';

const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

/** The headline ratios, each measured in this one run, with the targets they are held to. */
export function headlines(r: Results): Headline[] {
  const out: Headline[] = [];
  const pool = r.hol?.find((h) => h.target === 'pool');
  const inline = r.hol?.find((h) => h.target === 'inline');
  // Held on the open-loop probes: they see a stall as every request it delayed.
  const st = (h: HolResult): number => h.open.status?.p99 ?? NaN;
  if (pool) {
    out.push({ name: 'hol: status probe p99, open loop (pool)', value: `${st(pool)} ms (closed loop ${pool.status?.p99} ms)`, target: '≤ 5 ms', met: st(pool) <= 5 });
    out.push({ name: 'hol: echo probe p99, open loop (pool)', value: `${pool.open.latency.p99} ms (closed loop ${pool.echo.p99} ms)`, target: '≤ 10 ms', met: pool.open.latency.p99 <= 10 });
  }
  if (pool && inline) {
    out.push({ name: 'hol: status p99 inline ÷ pool (open loop)', value: `${ratio(st(inline), st(pool))}×` });
    out.push({ name: 'hol: echo p99 inline ÷ pool (open loop)', value: `${ratio(inline.open.latency.p99, pool.open.latency.p99)}×` });
  }
  const t = (target: string, c: number, p: number) => r.throughput?.find((x) => x.target === target && x.connections === c && x.pipeline === p)?.result.callsPerSec;
  for (const [c, p] of [
    [16, 1],
    [16, 32],
  ] as const) {
    const d = t('dispatchd', c, p);
    const ceil = t('inline-echo', c, p);
    if (d !== undefined && ceil !== undefined) {
      out.push({
        name: `throughput C=${c} P=${p}: dispatchd ÷ inline echo ceiling`,
        value: `${d} / ${ceil} calls/s = ${ratio(d, ceil)}`,
        ...(p === 32 ? { target: '≥ 0.5', met: d / ceil >= 0.5 } : {}),
      });
    }
    const base = t('asyncio-to_thread', c, p);
    if (d !== undefined && base !== undefined && p === 1) {
      out.push({ name: `throughput C=16 P=1 ÷ asyncio.to_thread baseline (same run)`, value: `${d} / ${base} calls/s = ${ratio(d, base)}×`, target: '≥ 5×', met: d / base >= 5 });
    }
    // The same figures for a minimal hand-written piscina server: what this machine allows any of them.
    const ref = t('piscina-minimal', c, p);
    if (ref !== undefined && (p === 1 ? base : ceil) !== undefined) {
      const by = (p === 1 ? base : ceil) as number;
      out.push({ name: `throughput C=${c} P=${p}: piscina-minimal reference ÷ ${p === 1 ? 'asyncio baseline' : 'inline echo ceiling'}`, value: `${ref} / ${by} calls/s = ${ratio(ref, by)}${p === 1 ? '×' : ''}` });
    }
    if (ref !== undefined && d !== undefined) out.push({ name: `throughput C=${c} P=${p}: dispatchd ÷ piscina-minimal reference`, value: `${ratio(d, ref)}×` });
  }
  const two = r.scaling?.find((s) => s.threads === 2);
  if (two) out.push({ name: 'scaling: 2 threads ÷ 1 thread', value: `${two.speedup}×`, target: '≥ 1.8×', met: two.speedup >= 1.8 });
  if (two?.bareSpeedup !== undefined) out.push({ name: 'scaling: the machine itself, 2 plain processes ÷ 1 (same rounds)', value: `${two.bareSpeedup}×` });
  if (r.maintenance) {
    const m = r.maintenance;
    out.push({ name: `maintenance: echo p99 during ${m.cycles} cycles ÷ with none`, value: `${m.duringCycles.p99} ms / ${m.idle.p99} ms = ${ratio(m.duringCycles.p99, m.idle.p99)}× (p50 ${m.duringCycles.p50} / ${m.idle.p50} ms)` });
  }
  for (const row of r.idle ?? []) {
    const on = row.quietRelease === 'on';
    out.push({ name: `idle: RSS fresh / after 8 000 calls and a quiet spell, --quiet-release ${row.quietRelease}`, value: `${row.freshMiB ?? '—'} / ${row.afterUseMiB ?? '—'} MiB (${row.releases} releases)`, ...(on && row.afterUseMiB !== null ? { target: '≤ 100 MiB after use', met: row.afterUseMiB <= 100 } : {}) });
  }
  if (r.store) {
    for (const row of r.store.rows) {
      out.push({ name: `store (${r.store.records} records, ${row.binding}): ${row.method} C=${row.connections}`, value: `${row.result.callsPerSec} calls/s, p50 ${row.result.latency.p50} ms, p99 ${row.result.latency.p99} ms, ${row.result.errors} errors` });
    }
  }
  if (r.abuse) {
    const a = r.abuse;
    out.push({ name: `abuse: daemon RSS after ${a.seconds} s of a never-reading sender`, value: `start ${a.rssStartMiB} MiB, max ${a.rssMaxMiB} MiB, end ${a.rssEndMiB} MiB (${a.disconnects} disconnects)` });
    out.push(...worstHeadlines(a.worst));
    out.push({ name: `abuse: daemon fds before/after ${a.cycles} connect/close cycles`, value: `${a.fdsBefore} / ${a.fdsAfter}`, met: a.fdsAfter !== null && a.fdsBefore !== null && a.fdsAfter <= a.fdsBefore + 1 });
  }
  out.push(...poolHeadlines(r.pool));
  const noNice = r.hol?.find((h) => h.target === 'pool');
  const nice10 = r.hol?.find((h) => h.target === 'pool-nice-10');
  if (noNice && nice10) {
    out.push({
      name: 'hol: default (slow-nice 0) vs slow-nice 10: status p99, echo p99 (open loop), slow calls/s',
      value: `${st(noNice)} / ${st(nice10)} ms, ${noNice.open.latency.p99} / ${nice10.open.latency.p99} ms, ${noNice.slowCallsPerSec} / ${nice10.slowCallsPerSec}`,
    });
  }
  if (r.startup) out.push(...startupHeadlines(r.startup));
  return out;
}
