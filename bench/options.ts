/**
 * The bench's command line: flags → a checked, frozen plan. Everything that
 * can be wrong with a command line is found here, before anything starts
 * (exit 2): an unknown scenario, a scenario that cannot run against the
 * target given, a call that is not `METHOD {json}`, a number that is not one.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { parseCall, type CallSpec } from './calls.js';
import { BenchUsageError } from './failures.js';
import { targetsFrom, type TargetSpec } from './target.js';

const SCENARIOS = ['hol', 'throughput', 'scaling', 'startup', 'abuse', 'store', 'maintenance', 'blocking', 'contention', 'poison', 'deadline', 'firstburst', 'idle'] as const;
export type Scenario = (typeof SCENARIOS)[number];
const DEFAULT_SCENARIOS: readonly Scenario[] = ['hol', 'throughput', 'scaling', 'startup', 'blocking', 'contention', 'poison', 'deadline', 'firstburst'];
/** What runs against a user's server: the rest need the bench's own fixture daemon (its methods, its flags). */
const ANY_TARGET: readonly Scenario[] = ['hol', 'throughput', 'blocking'];

export interface Plan {
  readonly scenarios: readonly Scenario[];
  /** Empty: the bench's own fixture daemon and reference servers. */
  readonly targets: readonly TargetSpec[];
  readonly ms: number;
  readonly holMs: number;
  readonly holConnections: number;
  readonly intervalMs: number;
  /** Open-loop probe rate, requests per second. */
  readonly rate: number;
  readonly slow: CallSpec;
  readonly fast: CallSpec;
  readonly threads: number | undefined;
  readonly settings: readonly (readonly [number, number])[];
  readonly maxThreads: number;
  readonly iterations: number;
  readonly runs: number;
  readonly abuseSeconds: number;
  readonly cycles: number;
  readonly records: number;
  readonly nices: readonly number[];
  readonly outDir: string;
  readonly asserts: readonly string[];
  readonly junit: string | undefined;
  /** Whether a missed headline target fails the run (the project's own targets). */
  readonly enforceTargets: boolean;
}

export const HELP = `usage: dispatchd bench [${SCENARIOS.join('|')} ...] [options]

Measures dispatchd (its own fixture daemon, by default) or your server, and
checks what you assert. Default scenarios: ${DEFAULT_SCENARIOS.join(', ')}
(about four minutes on 2 cores); against your server: hol and throughput.

Target (give one to measure it, a second to compare against it in the same run):
  --socket PATH        an NDJSON JSON-RPC server already listening on PATH
  --dispatch 'MODULE [serve flags]'   dispatchd started on your dispatch module
                       (e.g. --dispatch './dist/my-dispatch.js --threads 4')
  --cmd 'COMMAND'      a server the bench starts (sh -c), waits for, times and stops;
                       {socket} in COMMAND is replaced with a fresh socket path
  --slow-call 'METHOD {json params}'   the slow call (hol load, blocking); default 'spin {"ms":50}' on the fixture
  --fast-call 'METHOD {json params}'   the probe / throughput call; default 'echo {"x":1}' on the fixture
                       {seq} in the params becomes a fresh six-digit number per call ('primes_below {"n":3{seq}}')
Checks:
  --assert 'EXPR'      repeatable; e.g. 'hol.echo.p99 < 20ms', 'errors == 0',
                       'throughput.rps >= 0.5 * baseline.throughput.rps'; see docs/bench.md
  --junit FILE         JUnit XML, one test case per check and per scenario
  --targets enforce|report   the project's own headline targets fail the run (default) or are only reported
Output:
  --out DIR            results folder (default bench/results/<timestamp>): summary.json,
                       results.json, results.md, charts, and the servers' logs (logs/)
Exit: 0 every check held; 1 a scenario failed (the others' results are written);
      2 usage (bad option, unknown figure, target not there, scenario that cannot run against it);
      3 a check failed (an --assert, errors == 0, or a headline target);
      interrupted (SIGINT/SIGTERM): the servers it started are stopped, then it dies of the signal

Scenario options:
  --seconds N          measuring time per run (default 8)
  hol:        --hol-seconds N (15, or --seconds)  --hol-connections K (4)  --rate N (open-loop probes/s, 50)
              --interval-ms MS (closed-loop probe pause, 20)  --threads N
  throughput: --settings C:P,C:P (16:1,16:32)
              the fixture run adds the inline echo ceiling, a minimal piscina server and the asyncio baseline,
              measured in alternating rounds (the machine's load drifts; a ratio must not measure it)
  scaling:    --max-threads N (max(2, cores))  --iterations N (2000000)
  startup:    --runs N (7)  interleaved runs per target
  abuse:      --abuse-seconds N (60)  --cycles N (1000)   (not in the default run)
  store:      --records N (100000)   (not in the default run)
  maintenance: echo latency while maintenance cycles run vs none (not in the default run)
  idle:       RSS of a fresh daemon, and after 8 000 calls and a quiet spell, --quiet-release on and off (~1 min; not in the default run)
  blocking:   10 clients × 5 sequential slow calls, 3 parallel ones; warm and cold (fresh server), beside the asyncio baseline
  contention: --nices N,N (0,10)
  poison, deadline, firstburst: see docs/bench.md
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  socket: { type: 'string', multiple: true },
  dispatch: { type: 'string', multiple: true },
  cmd: { type: 'string', multiple: true },
  'slow-call': { type: 'string' },
  'fast-call': { type: 'string' },
  assert: { type: 'string', multiple: true },
  junit: { type: 'string' },
  targets: { type: 'string' },
  seconds: { type: 'string' },
  'hol-seconds': { type: 'string' },
  out: { type: 'string' },
  'hol-connections': { type: 'string' },
  rate: { type: 'string' },
  'interval-ms': { type: 'string' },
  threads: { type: 'string' },
  settings: { type: 'string' },
  'max-threads': { type: 'string' },
  iterations: { type: 'string' },
  runs: { type: 'string' },
  'abuse-seconds': { type: 'string' },
  cycles: { type: 'string' },
  records: { type: 'string' },
  nices: { type: 'string' },
} as const;

/** Parses argv; null when --help was asked. Throws BenchUsageError. */
export function parsePlan(argv: readonly string[], cwd: string, now: Date): Plan | null {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, tokens: true, options: OPTIONS });
  } catch (err) {
    // One line: node's message without its paragraph about `--`.
    throw new BenchUsageError((err as Error).message.split('. ')[0] as string);
  }
  const v = parsed.values;
  if (v.help) return null;
  const targets = targetsFrom(parsed.tokens, cwd);
  const mine = targets.length > 0;
  for (const s of parsed.positionals) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new BenchUsageError(`unknown scenario '${s}' (one of ${SCENARIOS.join(', ')})`);
  }
  const scenarios = parsed.positionals.length > 0 ? (parsed.positionals as Scenario[]) : mine ? ANY_TARGET.slice(0, 2) : DEFAULT_SCENARIOS;
  if (mine) {
    const cannot = scenarios.filter((s) => !ANY_TARGET.includes(s));
    if (cannot.length > 0) {
      throw new BenchUsageError(`${cannot.join(', ')} run only against the bench's own fixture daemon (they need its methods and flags); against --socket/--dispatch/--cmd: ${ANY_TARGET.join(', ')}`);
    }
    const needs = (flag: string, value: string | undefined, who: readonly Scenario[]): void => {
      const using = scenarios.filter((s) => who.includes(s));
      if (value === undefined && using.length > 0) throw new BenchUsageError(`${using.join(' and ')} against your server need ${flag} 'METHOD {json params}' (a call it serves)`);
    };
    needs('--slow-call', v['slow-call'], ['hol', 'blocking']);
    needs('--fast-call', v['fast-call'], ['hol', 'throughput']);
  }
  const num = (name: keyof typeof OPTIONS, d: number, min = 0): number => {
    const raw = v[name];
    if (raw === undefined) return d;
    const n = Number(raw);
    if (typeof raw !== 'string' || !Number.isFinite(n) || n < min) throw new BenchUsageError(`--${name}: expected a number ≥ ${min}, got '${String(raw)}'`);
    return n;
  };
  const seconds = num('seconds', 8, 0.1);
  const mode = v.targets ?? 'enforce';
  if (mode !== 'enforce' && mode !== 'report') throw new BenchUsageError(`--targets: enforce or report, got '${mode}'`);
  const settings = (v.settings ?? '16:1,16:32').split(',').map((s) => {
    const m = /^(\d+):(\d+)$/.exec(s.trim());
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new BenchUsageError(`--settings: expected C:P,C:P (connections:pipeline), got '${s}'`);
    return [Number(m[1]), Number(m[2])] as const;
  });
  return Object.freeze({
    scenarios,
    targets,
    ms: seconds * 1000,
    // p99 of a probe every ~20 ms needs more samples than the other scenarios.
    holMs: v['hol-seconds'] !== undefined ? num('hol-seconds', 15, 0.1) * 1000 : v.seconds !== undefined ? seconds * 1000 : 15_000,
    holConnections: num('hol-connections', 4, 1),
    intervalMs: num('interval-ms', 20),
    rate: num('rate', 50, 1),
    slow: v['slow-call'] !== undefined ? parseCall(v['slow-call'], '--slow-call') : { method: 'spin', params: { ms: 50 } },
    fast: v['fast-call'] !== undefined ? parseCall(v['fast-call'], '--fast-call') : { method: 'echo', params: { x: 1 } },
    threads: v.threads !== undefined ? num('threads', 1, 1) : undefined,
    settings,
    maxThreads: num('max-threads', Math.max(2, availableParallelism()), 1),
    iterations: num('iterations', 2_000_000, 1),
    runs: num('runs', 7, 1),
    abuseSeconds: num('abuse-seconds', 60, 1),
    cycles: num('cycles', 1000, 1),
    records: num('records', 100_000, 1),
    nices: (v.nices ?? '0,10').split(',').map(Number),
    outDir: v.out ?? join(cwd, 'bench', 'results', now.toISOString().replace(/[:.]/g, '-')),
    asserts: v.assert ?? [],
    junit: v.junit,
    enforceTargets: mode === 'enforce',
  });
}
