/**
 * Results as JSON, a markdown table, and SVG charts (probe latency pool vs
 * inline; scaling), written side by side.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HolResult, ScalingRow, StartupResult, ThroughputRow } from './scenarios.js';
import type { AbuseResult } from './abuse.js';
import type { StoreResult } from './store.js';
import type { MaintenanceResult } from './maintenance.js';
import type { PoolBenchResults } from './pool-bench.js';

export interface Results {
  readonly startedAt: string;
  readonly machine: { readonly cpus: number; readonly node: string; readonly platform: string };
  hol?: HolResult[];
  throughput?: ThroughputRow[];
  scaling?: ScalingRow[];
  startup?: StartupResult;
  abuse?: AbuseResult;
  store?: StoreResult;
  maintenance?: MaintenanceResult;
  pool?: PoolBenchResults;
  headlines?: Headline[];
}

export interface Headline {
  readonly name: string;
  readonly value: string;
  readonly target?: string;
  readonly met?: boolean;
}

function table(head: string[], rows: (string | number | null)[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => (c === null ? '—' : String(c))).join(' | ')} |`)].join('\n');
}

export function markdown(r: Results): string {
  const out: string[] = [`# dispatchd bench — ${r.startedAt}`, '', `${r.machine.cpus} CPUs, Node ${r.machine.node}, ${r.machine.platform}`, ''];
  if (r.headlines?.length) {
    out.push('## Headlines', '', table(['what', 'measured', 'target', 'met'], r.headlines.map((h) => [h.name, h.value, h.target ?? null, h.met === undefined ? null : h.met ? 'yes' : 'NO'])), '');
  }
  if (r.hol) {
    out.push('## hol — probe latency (ms) while slow calls saturate', '');
    out.push(
      table(
        ['target', 'status p50', 'p90', 'p99', 'max', 'echo p50', 'p90', 'p99', 'max', 'slow calls/s', 'lost', 'errors'],
        r.hol.map((h) => [h.target, h.status.p50, h.status.p90, h.status.p99, h.status.max, h.echo.p50, h.echo.p90, h.echo.p99, h.echo.max, h.slowCallsPerSec, h.lost, h.errors]),
      ),
      '',
    );
  }
  if (r.throughput) {
    out.push('## throughput — trivial calls', '');
    out.push(
      table(
        ['target', 'C', 'P', 'calls/s', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'errors'],
        r.throughput.map((t) => [t.target, t.connections, t.pipeline, t.result.callsPerSec, t.result.latency.p50, t.result.latency.p99, t.result.latency.max, t.result.lost, t.result.errors]),
      ),
      '',
    );
  }
  if (r.scaling) {
    out.push('## scaling — fixed CPU work', '');
    out.push(table(['threads', 'work/s', 'speed-up', 'calls/s', 'lost', 'errors'], r.scaling.map((s) => [s.threads, s.workPerSec, s.speedup, s.callsPerSec, s.lost, s.errors])), '');
  }
  if (r.startup) {
    out.push('## startup', '', table(['runs', 'spawn → first answer median ms', 'max ms', 'idle RSS MiB'], [[r.startup.runs, r.startup.firstAnswerMs.median, r.startup.firstAnswerMs.max, r.startup.idleRssMiB]]), '');
  }
  return out.join('\n');
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A grouped horizontal bar chart on a log or linear scale. */
function barChart(title: string, unit: string, groups: { label: string; bars: { name: string; value: number }[] }[], log: boolean): string {
  const colors = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1'];
  const rowH = 18;
  const left = 190;
  const width = 760;
  const plotW = width - left - 90;
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => v > 0);
  const max = Math.max(...values, 1e-3);
  const min = Math.min(...values, max);
  const lo = log ? Math.log10(Math.max(min / 2, 1e-3)) : 0;
  const hi = log ? Math.log10(max * 1.2) : max * 1.1;
  const x = (v: number): number => (log ? ((Math.log10(Math.max(v, 1e-3)) - lo) / (hi - lo)) * plotW : (v / hi) * plotW);
  let y = 40;
  const parts: string[] = [];
  for (const g of groups) {
    parts.push(`<text x="8" y="${y + 12}" font-weight="bold">${esc(g.label)}</text>`);
    y += rowH;
    g.bars.forEach((b, i) => {
      const w = Math.max(1, x(b.value));
      parts.push(`<text x="20" y="${y + 12}">${esc(b.name)}</text>`);
      parts.push(`<rect x="${left}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 5}" fill="${colors[i % colors.length]}"/>`);
      parts.push(`<text x="${left + w + 6}" y="${y + 12}">${b.value} ${esc(unit)}</text>`);
      y += rowH;
    });
    y += 8;
  }
  const height = y + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="8" y="20" font-size="15" font-weight="bold">${esc(title)}</text>
<text x="${width - 8}" y="20" text-anchor="end" fill="#666">${log ? 'log scale' : 'linear scale'}</text>
${parts.join('\n')}
</svg>
`;
}

export function holSvg(hol: HolResult[]): string {
  const groups = (['status', 'echo'] as const).flatMap((probe) =>
    (['p50', 'p99', 'max'] as const).map((q) => ({ label: `${probe} probe ${q}`, bars: hol.map((h) => ({ name: h.target, value: h[probe][q] })) })),
  );
  return barChart('Probe latency while slow calls saturate (pool vs inline)', 'ms', groups, true);
}

export function scalingSvg(rows: ScalingRow[]): string {
  return barChart('CPU-bound scaling: work/s by thread count', '×', [{ label: 'speed-up over 1 thread', bars: rows.map((r) => ({ name: `${r.threads} thread(s)`, value: r.speedup })) }], false);
}

/** Writes results.json, results.md and the SVGs into `dir`; returns the paths. */
export function writeReport(dir: string, r: Results): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const put = (name: string, text: string): void => {
    const p = join(dir, name);
    writeFileSync(p, text);
    files.push(p);
  };
  put('results.json', `${JSON.stringify(r, null, 2)}\n`);
  put('results.md', `${markdown(r)}\n`);
  if (r.hol?.length) put('hol.svg', holSvg(r.hol));
  if (r.scaling?.length) put('scaling.svg', scalingSvg(r.scaling));
  return files;
}
