/**
 * SVG charts for the bench report, meant to be read without the tables:
 * real axes with ticks and gridlines (linear when the values span less than
 * 20×, else log with labelled decades), sample counts in the legend, target
 * lines, and percentiles clamped to the max (HDR bucket edges can exceed it).
 */
import { clampToMax } from '../src/observability/metrics.js';
import type { HolResult } from './hol.js';
import type { ScalingRow } from './scenarios.js';

const COLORS = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1', '#b83280'];
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (v: number): string => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3))));

export interface Tick {
  readonly value: number;
  readonly label: string;
  readonly major: boolean;
}

export interface Scale {
  readonly kind: 'linear' | 'log';
  readonly lo: number;
  readonly hi: number;
  readonly ticks: readonly Tick[];
  /** Position in [0, 1] of value v. */
  at(v: number): number;
}

/** A step of 1, 2 or 5 × 10^k giving about `want` intervals up to `max`. */
function niceStep(max: number, want: number): number {
  const raw = max / want;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/** Linear from 0 when max/min ≤ 20 (bars from zero compare honestly), else log with decade ticks. */
export function chooseScale(values: readonly number[], extra: readonly number[] = []): Scale {
  const all = [...values, ...extra].filter((v) => Number.isFinite(v) && v > 0);
  const max = Math.max(...all, 1e-3);
  const min = Math.min(...all, max);
  if (max / min <= 20) {
    const step = niceStep(max, 5);
    const hi = Math.ceil((max * 1.05) / step) * step;
    const ticks: Tick[] = [];
    for (let v = 0; v <= hi + step / 2; v += step) ticks.push({ value: v, label: num(Number(v.toPrecision(6))), major: true });
    return { kind: 'linear', lo: 0, hi, ticks, at: (v) => Math.min(1, Math.max(0, v / hi)) };
  }
  const loD = Math.floor(Math.log10(min));
  const hiD = Math.ceil(Math.log10(max * 1.05));
  const ticks: Tick[] = [];
  for (let d = loD; d <= hiD; d++) {
    ticks.push({ value: 10 ** d, label: num(Number((10 ** d).toPrecision(1))), major: true });
    if (d < hiD) for (const m of [2, 5]) ticks.push({ value: m * 10 ** d, label: num(Number((m * 10 ** d).toPrecision(1))), major: false });
  }
  const lo = 10 ** loD;
  const hi = 10 ** hiD;
  return { kind: 'log', lo, hi, ticks, at: (v) => Math.min(1, Math.max(0, (Math.log10(Math.max(v, lo)) - loD) / (hiD - loD))) };
}

export interface Series {
  readonly name: string;
  /** Samples behind the series (shown in the legend). */
  readonly n?: number;
}

export interface BarGroup {
  readonly label: string;
  /** One value per series, in series order (null: not measured). */
  readonly values: readonly (number | null)[];
  readonly target?: { readonly value: number; readonly label: string };
}

/** Horizontal grouped bars on a shared value axis at the bottom. The subtitle may hold several lines (`\n`). */
function barChart(o: { title: string; subtitle: string; axisLabel: string; unit: string; series: readonly Series[]; groups: readonly BarGroup[] }): string {
  const width = 820;
  // Room for the longest group label (bold 12 px: ~7.2 px a character).
  const left = Math.max(150, Math.ceil(16 + 7.2 * Math.max(0, ...o.groups.map((g) => g.label.length))));
  const sub = o.subtitle.split('\n');
  const extra = 16 * (sub.length - 1);
  const right = 100;
  const plotW = width - left - right;
  const barH = 14;
  const values = o.groups.flatMap((g) => g.values.filter((v): v is number => v !== null));
  const scale = chooseScale(values, o.groups.flatMap((g) => (g.target ? [g.target.value] : [])));
  const x = (v: number): number => left + scale.at(v) * plotW;
  const parts: string[] = [];
  // Legend: one swatch per series with its sample count.
  let lx = 8;
  o.series.forEach((s, i) => {
    const label = `${s.name}${s.n === undefined ? '' : ` (n=${s.n})`}`;
    parts.push(`<rect x="${lx}" y="${50 + extra}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`, `<text x="${lx + 16}" y="${60 + extra}">${esc(label)}</text>`);
    lx += 26 + label.length * 6.6;
  });
  let y = 78 + extra;
  const top = y;
  const rows: string[] = [];
  for (const g of o.groups) {
    rows.push(`<text x="8" y="${y + barH - 2}" font-weight="bold">${esc(g.label)}</text>`);
    const g0 = y;
    g.values.forEach((v, i) => {
      const by = y + i * (barH + 2);
      if (v === null) return;
      const w = Math.max(1, x(v) - left);
      rows.push(
        `<rect class="bar" x="${left}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[i % COLORS.length]}"><title>${esc(`${o.series[i]?.name ?? ''} ${g.label}: ${v} ${o.unit}`)}</title></rect>`,
        // A white halo keeps the label readable where it crosses a target line.
        `<text x="${(left + w + 4).toFixed(1)}" y="${by + barH - 3}" font-size="11" stroke="white" stroke-width="3" paint-order="stroke">${num(v)} ${esc(o.unit)}</text>`,
      );
    });
    y += g.values.length * (barH + 2) + 10;
    if (g.target) {
      const tx = x(g.target.value).toFixed(1);
      rows.push(
        `<line class="target" x1="${tx}" y1="${g0 - 3}" x2="${tx}" y2="${y - 7}" stroke="#c53030" stroke-width="1.5" stroke-dasharray="4 3"/>`,
        `<text x="${tx}" y="${g0 - 5}" font-size="10" fill="#c53030" text-anchor="middle">${esc(g.target.label)}</text>`,
      );
    }
  }
  const bottom = y;
  // Gridlines and the axis, drawn under the bars.
  const grid: string[] = [];
  for (const t of scale.ticks) {
    const tx = x(t.value).toFixed(1);
    grid.push(`<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${bottom}" stroke="${t.major ? '#d0d0d0' : '#eeeeee'}"/>`);
    grid.push(`<line class="tick" x1="${tx}" y1="${bottom}" x2="${tx}" y2="${bottom + (t.major ? 6 : 3)}" stroke="#333"/>`);
    if (t.major || scale.kind === 'linear') grid.push(`<text class="tick-label" x="${tx}" y="${bottom + 18}" text-anchor="middle">${esc(t.label)}</text>`);
  }
  grid.push(`<line class="axis" x1="${left}" y1="${bottom}" x2="${left + plotW}" y2="${bottom}" stroke="#333"/>`);
  grid.push(`<text x="${left + plotW / 2}" y="${bottom + 36}" text-anchor="middle">${esc(o.axisLabel)} (${scale.kind === 'log' ? 'log scale: each labelled tick is 10×' : 'linear scale from 0'})</text>`);
  const height = bottom + 50;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="8" y="20" font-size="15" font-weight="bold">${esc(o.title)}</text>
${sub.map((line, i) => `<text x="8" y="${38 + 16 * i}" fill="#555">${esc(line)}</text>`).join('\n')}
${grid.join('\n')}
${parts.join('\n')}
${rows.join('\n')}
</svg>
`;
}

/**
 * Probe latency per variant: p50/p99/max of the open-loop probes (fixed
 * schedule, timed from each request's intended send time; the figures the
 * targets hold) and of the closed-loop ones beside them, status (when the
 * target answers it) and echo; the p99 targets on the open-loop groups.
 */
export function holSvg(hol: readonly HolResult[], targets: { status: number; echo: number } = { status: 5, echo: 10 }): string {
  const zero = { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const clamped = hol.map((h) => ({
    target: h.target,
    openStatus: clampToMax(h.open.status ?? zero),
    openEcho: clampToMax(h.open.latency),
    status: clampToMax(h.status ?? zero),
    echo: clampToMax(h.echo),
  }));
  const withStatus = hol.every((h) => h.status !== null && h.open.status !== null);
  const probes = withStatus ? (['openStatus', 'openEcho', 'status', 'echo'] as const) : (['openEcho', 'echo'] as const);
  const label = { openStatus: 'open-loop status', openEcho: 'open-loop echo', status: 'closed-loop status', echo: 'closed-loop echo' } as const;
  const target = { openStatus: targets.status, openEcho: targets.echo } as const;
  const groups: BarGroup[] = probes.flatMap((probe) =>
    (['p50', 'p99', 'max'] as const).map((q) => ({
      label: `${label[probe]} ${q}`,
      values: clamped.map((h) => h[probe][q]),
      ...(q === 'p99' && (probe === 'openStatus' || probe === 'openEcho') ? { target: { value: target[probe], label: `target ≤ ${target[probe]} ms` } } : {}),
    })),
  );
  const few = clamped.filter((h) => h.echo.count < 100).map((h) => h.target);
  return barChart({
    title: 'Probe latency while slow calls saturate the server (shorter is better)',
    subtitle: `open loop: ${hol[0]?.open.rate ?? 0}/s on a fixed schedule, timed from the intended send time (n = its probes); closed loop: send, wait, send${few.length > 0 ? `\nfewer than 100 closed-loop probes for ${few.join(', ')}: their p99 is their max` : ''}`,
    axisLabel: 'probe round trip, ms',
    unit: 'ms',
    series: clamped.map((h) => ({ name: h.target, n: h.openEcho.count })),
    groups,
  });
}

/** Measured speed-up per thread count as bars, the ideal (linear) speed-up as a dashed line. */
export function scalingSvg(rows: readonly ScalingRow[], target: { threads: number; speedup: number } = { threads: 2, speedup: 1.8 }): string {
  const width = 620;
  const height = 380;
  const left = 60;
  const bottomY = height - 60;
  const topY = 70;
  const plotW = width - left - 110;
  const plotH = bottomY - topY;
  const n = Math.max(...rows.map((r) => r.threads), 1);
  const hi = Math.max(n, ...rows.map((r) => r.speedup));
  const step = niceStep(hi, 5);
  const yMax = Math.ceil((hi * 1.05) / step) * step;
  const y = (v: number): number => bottomY - (v / yMax) * plotH;
  const slot = plotW / n;
  const x = (threads: number): number => left + (threads - 0.5) * slot;
  const parts: string[] = [];
  for (let v = 0; v <= yMax + step / 2; v += step) {
    const ty = y(v).toFixed(1);
    parts.push(`<line x1="${left}" y1="${ty}" x2="${left + plotW}" y2="${ty}" stroke="#e2e2e2"/>`);
    parts.push(`<line class="tick" x1="${left - 5}" y1="${ty}" x2="${left}" y2="${ty}" stroke="#333"/>`);
    parts.push(`<text class="tick-label" x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${num(Number(v.toPrecision(6)))}×</text>`);
  }
  for (const r of rows) {
    const bw = slot * 0.5;
    parts.push(
      `<rect class="bar" x="${(x(r.threads) - bw / 2).toFixed(1)}" y="${y(r.speedup).toFixed(1)}" width="${bw.toFixed(1)}" height="${(bottomY - y(r.speedup)).toFixed(1)}" fill="${COLORS[0]}"><title>${r.threads} thread(s): ${r.speedup}× (${r.workPerSec} work/s)</title></rect>`,
      `<text x="${x(r.threads).toFixed(1)}" y="${(y(r.speedup) + 16).toFixed(1)}" text-anchor="middle" fill="white" font-weight="bold">${num(r.speedup)}×</text>`,
      `<line class="tick" x1="${x(r.threads).toFixed(1)}" y1="${bottomY}" x2="${x(r.threads).toFixed(1)}" y2="${bottomY + 5}" stroke="#333"/>`,
      `<text class="tick-label" x="${x(r.threads).toFixed(1)}" y="${bottomY + 18}" text-anchor="middle">${r.threads}</text>`,
    );
  }
  // Ideal: n threads do n× the work of one.
  const ideal = Array.from({ length: n }, (_, i) => `${x(i + 1).toFixed(1)},${y(i + 1).toFixed(1)}`).join(' ');
  parts.push(`<polyline class="ideal" points="${ideal}" fill="none" stroke="#555" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  for (let t = 1; t <= n; t++) parts.push(`<circle cx="${x(t).toFixed(1)}" cy="${y(t).toFixed(1)}" r="3" fill="#555"/>`);
  if (target.threads <= n) {
    const tx = x(target.threads);
    const ty = y(target.speedup).toFixed(1);
    parts.push(
      `<line class="target" x1="${(tx - slot * 0.4).toFixed(1)}" y1="${ty}" x2="${(tx + slot * 0.4).toFixed(1)}" y2="${ty}" stroke="#c53030" stroke-width="1.5" stroke-dasharray="4 3"/>`,
      `<text x="${(tx + slot * 0.4 + 4).toFixed(1)}" y="${(Number(ty) + 4).toFixed(1)}" font-size="10" fill="#c53030">target ≥ ${target.speedup}×</text>`,
    );
  }
  parts.push(`<line class="axis" x1="${left}" y1="${bottomY}" x2="${left + plotW}" y2="${bottomY}" stroke="#333"/>`, `<line class="axis" x1="${left}" y1="${topY - 10}" x2="${left}" y2="${bottomY}" stroke="#333"/>`);
  const si = (v: number): string => (v >= 1e9 ? `${num(v / 1e9)}G` : v >= 1e6 ? `${num(v / 1e6)}M` : v >= 1e3 ? `${num(v / 1e3)}k` : num(v));
  // The machine's own speed-up (plain processes, same rounds) bounds what any thread count can show.
  const counts = rows.map((r) => `${r.threads} thread${r.threads === 1 ? '' : 's'}: ${si(r.workPerSec)} work/s, ${si(r.callsPerSec)} calls/s${r.threads > 1 ? `, the machine alone ${r.bareSpeedup}×` : ''}`).join(' · ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="8" y="20" font-size="15" font-weight="bold">Speed-up over 1 thread for fixed CPU work (higher is better)</text>
<text x="8" y="38" fill="#555">bars: measured · dashed line: ideal (n threads = n×) · red: target</text>
<text x="8" y="54" fill="#555" font-size="11">${esc(counts)}</text>
${parts.join('\n')}
<text x="${left + plotW / 2}" y="${height - 22}" text-anchor="middle">worker threads (linear)</text>
<text x="16" y="${(topY + bottomY) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(topY + bottomY) / 2})">speed-up (linear from 0)</text>
</svg>
`;
}
