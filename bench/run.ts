/**
 * The benchmark harness: `npm run bench` or `dispatchd bench [scenario…]`.
 * Measures the project's own fixture daemon or a user's server, runs each
 * scenario on its own (one failing never loses the others' results), checks
 * the figures, writes the results folder and returns the exit code.
 */
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { writeReport, markdown, type Results } from './report.js';
import { scaling, throughput } from './scenarios.js';
import { holAlternating, holVariants, type HolOptions } from './hol.js';
import { startup } from './startup.js';
import { abuse } from './abuse.js';
import { store } from './store.js';
import { maintenance } from './maintenance.js';
import { idle } from './idle.js';
import { contention, deadline, firstBurst, poison } from './pool-bench.js';
import { blocking } from './blocking.js';
import { headlines } from './headlines.js';
import { HELP, parsePlan, type Plan, type Scenario } from './options.js';
import { BenchUsageError, TargetError } from './failures.js';
import { answersStatus, startTarget, type Running } from './target.js';
import { logChildrenTo, stopAll } from './procs.js';
import { check, namesOf, parseAssertion, type Assertion } from './assertions.js';
import { figures, unknownFigure, type Roles } from './figures.js';
import { EXIT, SUMMARY_VERSION, exitCode, type ScenarioOutcome, type Summary, type SummaryCheck } from './summary.js';
import { junitXml } from './junit.js';
import { addCodes } from './wire-error.js';
import { progressReporter } from './progress.js';

type Out = { out: (s: string) => void; err: (s: string) => void };

/** Parses the command line and the assertions; a BenchUsageError for anything wrong. */
function prepare(argv: readonly string[]): { plan: Plan; asserts: Assertion[] } | null {
  const plan = parsePlan(argv, process.cwd(), new Date());
  if (plan === null) return null;
  const asserts = plan.asserts.map(parseAssertion);
  for (const a of asserts) {
    for (const name of namesOf(a)) {
      const why = unknownFigure(name, plan.scenarios);
      if (why !== null) throw new BenchUsageError(`--assert '${a.text}': ${why}`);
    }
  }
  return { plan, asserts };
}

export async function runBench(argv: string[], io: Out): Promise<number> {
  let prepared;
  try {
    prepared = prepare(argv);
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    io.err(`dispatchd bench: ${err.message}; see dispatchd bench --help\n`);
    return EXIT.usage;
  }
  if (prepared === null) {
    io.out(HELP);
    return EXIT.ok;
  }
  const { plan, asserts } = prepared;
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  logChildrenTo(join(plan.outDir, 'logs'));
  const running: Running[] = [];
  try {
    for (const spec of plan.targets) running.push(await startTarget(spec));
  } catch (err) {
    await Promise.all(running.map((r) => r.stop()));
    logChildrenTo(null);
    if (!(err instanceof TargetError || err instanceof BenchUsageError)) throw err;
    io.err(`dispatchd bench: ${err.message}\n`);
    return EXIT.usage;
  }
  // Interrupted (Ctrl-C, a CI timeout): stop every server the run started — a --cmd server runs in a
  // process group of its own, out of the terminal's reach — then die of the same signal.
  const interrupted = (sig: NodeJS.Signals): void => {
    void stopAll().finally(() => process.kill(process.pid, sig));
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, interrupted);
  const progress = progressReporter(io);
  const results: Results = { startedAt, machine: { cpus: availableParallelism(), node: process.version, platform: process.platform } };
  const outcomes: Record<string, ScenarioOutcome> = {};
  try {
    for (const scenario of plan.scenarios) {
      const s0 = performance.now();
      const seconds = (): number => Math.round(performance.now() - s0) / 1000;
      try {
        await runScenario(scenario, plan, running, results, progress.report);
        outcomes[scenario] = { status: 'ok', seconds: seconds() };
      } catch (err) {
        const refused = err instanceof BenchUsageError;
        const message = err instanceof Error ? err.message : String(err);
        outcomes[scenario] = { status: refused ? 'refused' : 'failed', seconds: seconds(), error: message };
        progress.line(`bench: ${scenario} ${refused ? 'cannot run' : 'failed'}: ${message}`);
      }
    }
  } finally {
    progress.stop();
    await Promise.all(running.map((r) => r.stop()));
    logChildrenTo(null);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.removeListener(sig, interrupted);
  }
  results.headlines = headlines(results);
  const figs = figures(results, roles(plan, running));
  const checks: SummaryCheck[] = asserts.map((a) => ({ ...check(a, figs), kind: 'assert' as const }));
  // Errors are never a success: unless an --assert says how many are acceptable, there must be none.
  if (!asserts.some((a) => namesOf(a).includes('errors'))) checks.push({ ...check(parseAssertion('errors == 0'), figs), kind: 'errors' });
  if (plan.enforceTargets) {
    for (const h of results.headlines) {
      if (h.met !== undefined) checks.push({ text: `${h.name} ${h.target ?? ''}`.trim(), ok: h.met, left: null, right: null, message: h.met ? 'held' : `measured ${h.value}`, kind: 'target' });
    }
  }
  const code = exitCode(outcomes, checks);
  const summary: Summary = {
    schema: 'dispatchd-bench-summary',
    version: SUMMARY_VERSION,
    startedAt,
    seconds: Math.round(performance.now() - t0) / 1000,
    machine: results.machine,
    targets: plan.targets.length > 0 ? plan.targets.map((t, i) => ({ name: t.name, kind: t.kind, startMs: running[i]?.startMs ?? null })) : [{ name: 'dispatchd (bench fixture)', kind: 'fixture', startMs: null }],
    scenarios: outcomes,
    figures: Object.fromEntries([...figs].sort(([a], [b]) => a.localeCompare(b))),
    errorCodes: errorCodes(results),
    checks,
    exitCode: code,
  };
  const files = writeReport(plan.outDir, results);
  appendFileSync(join(plan.outDir, 'results.md'), `\n${checksText(summary)}`);
  const summaryPath = join(plan.outDir, 'summary.json');
  writeFileSync(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  files.push(summaryPath);
  if (plan.junit !== undefined) {
    mkdirSync(dirname(plan.junit), { recursive: true });
    writeFileSync(plan.junit, junitXml(summary));
    files.push(plan.junit);
  }
  io.out(`${markdown(results)}\n\n${checksText(summary)}\nwritten: ${files.join(', ')}\nexit ${code}\n`);
  return code;
}

function errorCodes(r: Results): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const h of r.hol ?? []) addCodes(codes, h.codes);
  for (const t of r.throughput ?? []) addCodes(codes, t.result.codes);
  return codes;
}

function checksText(s: Summary): string {
  const lines = ['## Checks', ''];
  for (const [name, o] of Object.entries(s.scenarios)) if (o.status !== 'ok') lines.push(`- scenario ${name}: ${o.status.toUpperCase()} — ${o.error ?? ''}`);
  for (const c of s.checks) lines.push(`- ${c.ok ? 'ok  ' : 'FAIL'} ${c.text}${c.ok ? '' : ` — ${c.message}`}`);
  return `${lines.join('\n')}\n`;
}

/** Which rows are the target under test and its baseline, per scenario. */
function roles(plan: Plan, running: readonly Running[]): Roles {
  const [first, second] = running;
  if (first !== undefined) {
    const all = (name: string | undefined): Partial<Record<Scenario, string>> => (name === undefined ? {} : { hol: name, throughput: name, blocking: name });
    return { primary: all(first.name), baseline: all(second?.name) };
  }
  return {
    primary: { hol: 'pool', throughput: 'dispatchd', blocking: 'dispatchd', scaling: String(plan.maxThreads), startup: 'dispatchd (fixture module)', maintenance: 'dispatchd', idle: 'quiet-release on', contention: String(plan.nices[0]), poison: 'dispatchd', deadline: 'dispatchd', firstburst: 'dispatchd' },
    baseline: { hol: 'inline', throughput: 'asyncio-to_thread', blocking: 'asyncio-to_thread', firstburst: 'asyncio-to_thread', scaling: '1', startup: 'asyncio baseline (python3)', idle: 'quiet-release off' },
  };
}

async function runScenario(s: Scenario, plan: Plan, running: readonly Running[], results: Results, progress: (label: string, frac: number) => void): Promise<void> {
  const mine = running.length > 0;
  const pool = (results.pool ??= {});
  const ms = plan.ms;
  switch (s) {
    case 'hol': {
      const o: HolOptions = { connections: plan.holConnections, intervalMs: plan.intervalMs, rate: plan.rate, ms: plan.holMs, slow: plan.slow, fast: plan.fast, status: true };
      if (!mine) {
        results.hol = await holVariants({ ...o, ...(plan.threads ? { threads: plan.threads } : {}), variants: ['pool', 'pool-nice-10', 'pool-no-lanes', 'inline'] }, progress);
        return;
      }
      const targets = [];
      for (const t of running) targets.push({ name: t.name, socket: t.socket, status: await answersStatus(t.socket) });
      results.hol = await holAlternating(targets, o, progress);
      return;
    }
    case 'throughput': {
      const targets = mine ? running.map((t) => [t.name, async () => ({ ...t, stop: async () => {} })] as const) : undefined;
      results.throughput = await throughput({ ...(targets ? { targets } : {}), settings: plan.settings, ms: Math.min(ms, 6000), call: plan.fast }, progress);
      return;
    }
    case 'blocking':
      pool.blocking = await blocking(progress, mine ? { targets: running, calls: { short: plan.slow, long: plan.slow } } : {});
      return;
    case 'scaling':
      results.scaling = await scaling({ maxThreads: plan.maxThreads, ms, iterations: plan.iterations }, progress);
      return;
    case 'startup':
      results.startup = await startup({ runs: plan.runs }, progress);
      return;
    case 'maintenance':
      results.maintenance = await maintenance({ ms }, progress);
      return;
    case 'idle':
      results.idle = await idle(progress);
      return;
    case 'store':
      results.store = await store({ records: plan.records, ms }, progress);
      return;
    case 'contention':
      pool.contention = await contention(plan.nices, progress);
      return;
    case 'poison':
      pool.poison = await poison({ ms: Math.min(ms, 8000) }, progress);
      return;
    case 'deadline':
      pool.deadline = await deadline(progress);
      return;
    case 'firstburst':
      pool.firstBurst = await firstBurst({ ms: 2000 }, progress);
      return;
    case 'abuse':
      results.abuse = await abuse({ seconds: plan.abuseSeconds, cycles: plan.cycles }, progress);
      return;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exitCode = await runBench(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
}
