/**
 * The summary's named figures: one number per name, the vocabulary of
 * `--assert`. A row of scenario S measured on target T is `S[T].metric`; the
 * target under test is also plain `S.metric`, and the one it is compared
 * with `baseline.S.metric`. `errors` (every error answer and lost call among
 * the calls meant to succeed) always exists. Times are in ms.
 */
import type { Results } from './report.js';
import type { Scenario } from './options.js';
import type { Percentiles } from './load.js';

/** Which row of a scenario is the one under test, and which its baseline. */
export interface Roles {
  readonly primary: Partial<Record<Scenario, string>>;
  readonly baseline: Partial<Record<Scenario, string>>;
}

/** The metrics each scenario's rows carry (what follows `S.` or `S[T].`). */
export const METRICS: Readonly<Record<Scenario, readonly string[]>> = {
  hol: ['echo.p50', 'echo.p99', 'echo.max', 'status.p50', 'status.p99', 'status.max', 'closed.echo.p50', 'closed.echo.p99', 'closed.echo.max', 'closed.status.p50', 'closed.status.p99', 'closed.status.max', 'slow.rps', 'errors'],
  // The first --settings pair unprefixed; every pair also as cCpP.metric (c16p32.rps).
  throughput: ['rps', 'p50', 'p99', 'max', 'errors'],
  scaling: ['speedup', 'bare_speedup', 'errors'],
  startup: ['first_answer_ms'],
  abuse: [],
  store: ['errors'],
  maintenance: ['p99_ratio'],
  blocking: ['ten_by_five_ms', 'three_parallel_ms', 'cold_ten_by_five_ms', 'errors'],
  contention: ['ratio'],
  poison: ['victim_failed', 'victim_p99'],
  deadline: ['pipelined_ok'],
  firstburst: ['ratio', 'cold_ms', 'warm_ms', 'fresh_max_ms', 'fresh_p99_ms', 'fresh_cold_ms', 'fresh_warm_ms'],
  idle: ['fresh_mib', 'after_use_mib'],
};

/** Whether `metric` is one scenario `s` can have (static: checked before the run). */
function isMetric(s: Scenario, metric: string): boolean {
  const m = s === 'throughput' ? metric.replace(/^c\d+p\d+\./, '') : metric;
  return METRICS[s].includes(m);
}

const pct = (prefix: string, p: Percentiles | null, put: (k: string, v: number) => void): void => {
  if (p === null || p.count === 0) return;
  put(`${prefix}.p50`, p.p50);
  put(`${prefix}.p99`, Math.min(p.p99, p.max));
  put(`${prefix}.max`, p.max);
};

/** Every figure of a run. */
export function figures(r: Results, roles: Roles): Map<string, number> {
  const out = new Map<string, number>();
  let errors = 0;
  const row = (s: Scenario, target: string, metrics: Record<string, number>): void => {
    for (const [m, v] of Object.entries(metrics)) {
      out.set(`${s}[${target}].${m}`, v);
      if (roles.primary[s] === target) out.set(`${s}.${m}`, v);
      if (roles.baseline[s] === target) out.set(`baseline.${s}.${m}`, v);
    }
  };
  for (const h of r.hol ?? []) {
    const m: Record<string, number> = {};
    const put = (k: string, v: number): void => {
      m[k] = v;
    };
    pct('echo', h.open.latency, put);
    pct('status', h.open.status, put);
    pct('closed.echo', h.echo, put);
    pct('closed.status', h.status, put);
    m['slow.rps'] = h.slowCallsPerSec;
    m.errors = h.errors + h.lost;
    errors += m.errors;
    row('hol', h.target, m);
  }
  const firstSetting = r.throughput?.[0];
  for (const t of r.throughput ?? []) {
    const e = t.result.errors + t.result.lost;
    errors += e;
    const base = { rps: t.result.callsPerSec, p50: t.result.latency.p50, p99: Math.min(t.result.latency.p99, t.result.latency.max), max: t.result.latency.max, errors: e };
    const setting = `c${t.connections}p${t.pipeline}`;
    row('throughput', t.target, Object.fromEntries(Object.entries(base).map(([k, v]) => [`${setting}.${k}`, v])));
    if (firstSetting && t.connections === firstSetting.connections && t.pipeline === firstSetting.pipeline) row('throughput', t.target, base);
  }
  for (const s of r.scaling ?? []) {
    errors += s.errors + s.lost;
    row('scaling', String(s.threads), { speedup: s.speedup, bare_speedup: s.bareSpeedup, errors: s.errors + s.lost });
  }
  for (const s of r.startup?.rows ?? []) row('startup', s.target, { first_answer_ms: s.firstAnswerMs.median });
  for (const s of r.store?.rows ?? []) {
    errors += s.result.errors + s.result.lost;
    row('store', `${s.method} C=${s.connections} ${s.binding}`, { errors: s.result.errors + s.result.lost });
  }
  for (const i of r.idle ?? []) row('idle', `quiet-release ${i.quietRelease}`, { ...(i.freshMiB !== null ? { fresh_mib: i.freshMiB } : {}), ...(i.afterUseMiB !== null ? { after_use_mib: i.afterUseMiB } : {}) });
  if (r.maintenance) row('maintenance', 'dispatchd', { p99_ratio: r.maintenance.duringCycles.p99 / Math.max(r.maintenance.idle.p99, 0.001) });
  for (const b of r.pool?.blocking ?? []) {
    errors += b.errors;
    row('blocking', b.target, { ten_by_five_ms: b.tenByFiveSec * 1000, three_parallel_ms: b.threeParallelSec * 1000, ...(b.coldTenByFiveSec !== undefined ? { cold_ten_by_five_ms: b.coldTenByFiveSec * 1000 } : {}), errors: b.errors });
  }
  for (const c of r.pool?.contention ?? []) row('contention', String(c.slowNice), { ratio: c.ratio });
  if (r.pool?.poison) {
    const p = r.pool.poison;
    errors += p.victimErrors + p.victimLost;
    row('poison', 'dispatchd', { victim_failed: p.victimErrors + p.victimLost, victim_p99: p.victimLatency.p99 });
  }
  if (r.pool?.deadline) row('deadline', 'dispatchd', { pipelined_ok: r.pool.deadline.pipelinedOk });
  if (r.pool?.firstBurst) {
    const f = r.pool.firstBurst;
    row('firstburst', 'dispatchd', { ratio: f.ratio, cold_ms: f.coldMs, warm_ms: f.warmMs, fresh_max_ms: f.freshMaxMs, fresh_p99_ms: f.freshP99Ms });
    for (const b of f.freshBurst) row('firstburst', b.target, { fresh_cold_ms: b.coldMs, fresh_warm_ms: b.warmMs });
  }
  out.set('errors', errors);
  return out;
}

/**
 * Checks a figure name against the scenarios of this run before anything
 * runs: a misspelled name is a usage error, never a check that silently
 * passes. Returns why it is wrong, or null.
 */
export function unknownFigure(name: string, scenarios: readonly Scenario[]): string | null {
  if (name === 'errors') return null;
  const m = /^(?:baseline\.)?([a-z]+)(\[[^\]]+\])?\.(.+)$/.exec(name);
  const s = m?.[1] as Scenario | undefined;
  if (!m || s === undefined || !Object.hasOwn(METRICS, s)) return `unknown figure '${name}' (figures are errors or SCENARIO.METRIC, e.g. hol.echo.p99; see docs/bench.md)`;
  if (!scenarios.includes(s)) return `figure '${name}' is measured by scenario '${s}', which this run does not include`;
  const metric = m[3] as string;
  if (!isMetric(s, metric)) return `unknown figure '${name}': ${s} has ${METRICS[s].join(', ') || 'no figures'}${s === 'throughput' ? ' (and cCpP.METRIC per --settings pair)' : ''}`;
  return null;
}
