/**
 * The bench charts: axes with ticks, a scale that fits the values (linear
 * when it can, labelled decades when it must), sample counts, target lines,
 * the scaling chart's ideal line, and percentiles never above the max — in
 * the charts, the markdown, and the daemon's own `status` histograms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseScale, holSvg, scalingSvg } from '../bench/charts.js';
import { markdown } from '../bench/report.js';
import type { HolResult } from '../bench/hol.js';
import { Latency } from '../src/observability/metrics.js';

const P = (count: number, p50: number, p90: number, p99: number, max: number) => ({ count, p50, p90, p99, max });
const HOL: HolResult[] = [
  { target: 'pool', status: P(650, 0.172, 0.239, 1.792, 6.898), echo: P(650, 0.187, 0.264, 3.103, 5.495), open: { rate: 50, sent: 650, ok: 650, errors: 0, codes: {}, lost: 0, latency: P(650, 0.2, 0.3, 2.1, 6.1), status: P(650, 0.18, 0.25, 1.9, 6.5) }, slowCallsPerSec: 39.7, slowCalls: 595, lost: 0, errors: 0, codes: {} },
  // The reference run's inline row: 22 probes, and p99 above max (HDR bucket edge).
  { target: 'inline', status: P(22, 332.287, 335.359, 382.719, 382.541), echo: P(22, 352.255, 352.511, 354.047, 353.839), open: { rate: 50, sent: 750, ok: 750, errors: 0, codes: {}, lost: 0, latency: P(750, 180.5, 330.1, 352.2, 353.9), status: P(750, 170.1, 320.2, 381.0, 382.541) }, slowCallsPerSec: 19.9, slowCalls: 300, lost: 0, errors: 0, codes: {} },
];

const attr = (svg: string, cls: string): string[] => [...svg.matchAll(new RegExp(`<[a-z]+ class="${cls}"[^>]*>`, 'g'))].map((m) => m[0]);
const labels = (svg: string): string[] => [...svg.matchAll(/<text class="tick-label"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1] as string);

test('a scale is linear from 0 when the values allow it, else log with one labelled tick per decade', () => {
  const lin = chooseScale([1, 1.95]);
  assert.equal(lin.kind, 'linear');
  assert.equal(lin.lo, 0);
  assert.ok(lin.hi >= 1.95 && lin.ticks.length >= 3);
  assert.equal(lin.at(lin.hi / 2), 0.5);
  const log = chooseScale([0.172, 383]);
  assert.equal(log.kind, 'log');
  assert.deepEqual(log.ticks.filter((t) => t.major).map((t) => t.label), ['0.1', '1', '10', '100', '1000']);
  assert.ok(log.at(1) > log.at(0.172) && log.at(383) <= 1);
  // Equal distance per decade.
  assert.ok(Math.abs(log.at(10) - log.at(1) - (log.at(100) - log.at(10))) < 1e-9);
});

test('hol chart: open-loop and closed-loop groups, an axis with decade ticks, sample counts, p99 targets on the open loop, and no value above its max', () => {
  const svg = holSvg(HOL);
  assert.equal(attr(svg, 'axis').length, 1);
  assert.ok(attr(svg, 'tick').length >= 5);
  assert.deepEqual(labels(svg), ['0.1', '1', '10', '100', '1000']);
  assert.match(svg, /log scale/);
  assert.match(svg, /pool \(n=650\)/);
  assert.match(svg, /inline \(n=750\)/);
  assert.match(svg, /fewer than 100 closed-loop probes for inline: their p99 is their max/);
  assert.match(svg, /open loop: 50\/s on a fixed schedule, timed from the intended send time/);
  assert.equal(attr(svg, 'target').length, 2);
  assert.match(svg, /target ≤ 5 ms/);
  assert.match(svg, /target ≤ 10 ms/);
  // Clamped: the inline status p99 is drawn at its max, never beyond.
  assert.ok(!svg.includes('382.719'), 'p99 above max must be clamped');
  assert.match(svg, /inline closed-loop status p99: 382\.541 ms/);
  // Bars are drawn in proportion: 0.1 → 1 takes as much width as 10 → 100.
  const widths = new Map(attr(svg, 'bar').map((b) => [/<title>([^<]*)</.exec(svg.slice(svg.indexOf(b)))?.[1], Number(/width="([\d.]+)"/.exec(b)?.[1])]));
  const w = (k: string): number => widths.get(k) as number;
  assert.ok(w('inline closed-loop status p50: 332.287 ms') > w('pool closed-loop status p99: 1.792 ms') && w('pool closed-loop status p99: 1.792 ms') > w('pool closed-loop status p50: 0.172 ms'));
});

test('scaling chart: says what it shows, linear axis from 0, ideal line through n× at n threads, target', () => {
  const svg = scalingSvg([
    { threads: 1, workPerSec: 996e6, speedup: 1, callsPerSec: 498, lost: 0, errors: 0, bareSpeedup: 1 },
    { threads: 2, workPerSec: 1942e6, speedup: 1.95, callsPerSec: 971, lost: 0, errors: 0, bareSpeedup: 1.97 },
  ]);
  assert.match(svg, /Speed-up over 1 thread for fixed CPU work/);
  assert.ok(labels(svg).includes('0×') && labels(svg).includes('2×'), labels(svg).join(' '));
  const ideal = attr(svg, 'ideal');
  assert.equal(ideal.length, 1);
  const pts = (/points="([^"]+)"/.exec(ideal[0] as string)?.[1] ?? '').split(' ').map((p) => p.split(',').map(Number));
  assert.equal(pts.length, 2);
  // The 2× point sits higher (smaller y) than the 1× point by the same distance as 1× above 0.
  const zeroY = Number(/<line class="axis" x1="[\d.]+" y1="([\d.]+)"/.exec(svg)?.[1]);
  const [[, y1], [, y2]] = pts as [[number, number], [number, number]];
  assert.ok(Math.abs(zeroY - y1 - (y1 - y2)) < 0.2, `${zeroY} ${y1} ${y2}`);
  assert.match(svg, /target ≥ 1\.8×/);
  assert.match(svg, /996M work\/s/);
});

test('markdown tables clamp percentiles to max and show the probe count', () => {
  const md = markdown({ startedAt: 't', machine: { cpus: 2, node: 'v20', platform: 'linux' }, hol: HOL });
  const row = md.split('\n').find((l) => l.startsWith('| inline |')) as string;
  assert.ok(row.includes('| 22 |'), row);
  assert.ok(!row.includes('382.719'), row);
});

test('status latency summaries never report a percentile above the max', () => {
  const l = new Latency();
  for (let i = 0; i < 200; i++) l.record(383.15);
  l.record(0.5);
  const s = l.summary();
  assert.equal(s.max, 383.15);
  for (const q of [s.p50, s.p90, s.p99]) assert.ok(q <= s.max, JSON.stringify(s));
  assert.equal(s.count, 201);
  assert.ok(Math.abs(s.sum - (200 * 383.15 + 0.5)) < 0.01, String(s.sum));
});
