/**
 * Results as JSON, a markdown table, and SVG charts (probe latency pool vs
 * inline; scaling), written side by side.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HolResult } from './hol.js';
import type { ScalingRow, ThroughputRow } from './scenarios.js';
import { startupMarkdown, type StartupResult } from './startup.js';
import type { AbuseResult } from './abuse.js';
import { storeMarkdown, type StoreResult } from './store.js';
import type { MaintenanceResult } from './maintenance.js';
import type { IdleRow } from './idle.js';
import { clampToMax } from '../src/observability/metrics.js';
import { holSvg, scalingSvg } from './charts.js';
import type { PoolBenchResults } from './pool-bench.js';
import type { Headline } from './types.js';

export { holSvg, scalingSvg };

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
  idle?: IdleRow[];
  pool?: PoolBenchResults;
  headlines?: Headline[];
}

export type { Headline };

/** `-32601×12, -32001×1`, or a dash. */
function codesText(codes: Readonly<Record<string, number>>): string | null {
  const parts = Object.entries(codes).map(([c, n]) => `${c}×${n}`);
  return parts.length > 0 ? parts.join(', ') : null;
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
      'Open loop: a fast call every 1/rate s on a fixed schedule, timed from when it should have left (what a user sees during a stall). ' +
        'Closed loop: status, then the fast call, then the interval, timed from when each left (a stall shows as one sample: kept beside it for comparison).',
      '',
    );
    const dash = (p: { p50: number; p99: number; max: number } | null): (number | null)[] => (p === null ? [null, null, null] : [p.p50, p.p99, p.max]);
    out.push(
      table(
        ['target', 'open-loop rate/s', 'open echo p50', 'p99', 'max', 'closed probes', 'closed status p50', 'p99', 'max', 'closed echo p50', 'p99', 'max', 'slow calls/s', 'lost', 'errors', 'error codes'],
        r.hol.map((h) => {
          const ec = clampToMax(h.echo);
          return [
            h.target,
            h.open.rate,
            ...dash(clampToMax(h.open.latency)),
            ec.count,
            ...dash(h.status === null ? null : clampToMax(h.status)),
            ...dash(ec),
            h.slowCallsPerSec,
            h.lost,
            h.errors,
            codesText(h.codes),
          ];
        }),
      ),
      '',
    );
  }
  if (r.throughput) {
    out.push('## throughput — trivial calls', '');
    out.push(
      table(
        ['target', 'C', 'P', 'calls/s (answered with a result)', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'errors', 'error codes'],
        r.throughput.map((t) => {
          const l = clampToMax(t.result.latency);
          return [t.target, t.connections, t.pipeline, t.result.callsPerSec, l.p50, l.p99, l.max, t.result.lost, t.result.errors, codesText(t.result.codes)];
        }),
      ),
      '',
    );
  }
  if (r.scaling) {
    out.push('## scaling — fixed CPU work', '');
    out.push(table(['threads', 'work/s', 'speed-up', 'bare processes speed-up (same rounds)', 'calls/s', 'lost', 'errors'], r.scaling.map((s) => [s.threads, s.workPerSec, s.speedup, s.bareSpeedup ?? '—', s.callsPerSec, s.lost, s.errors])), '');
  }
  if (r.startup) out.push(...startupMarkdown(r.startup));
  if (r.store) out.push(...storeMarkdown(r.store));
  return out.join('\n');
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
