/**
 * The benchmark harness: `npm run bench` or `dispatchd bench [scenario…]`.
 * Starts dispatchd as its own process (or drives `--socket PATH`), runs the
 * scenarios, prints the headline ratios and writes JSON, markdown and SVG.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { writeReport, markdown, type Headline, type Results } from './report.js';
import { hol, scaling, throughput, type Progress } from './scenarios.js';
import { startup, startupHeadlines } from './startup.js';
import { abuse, worstHeadlines } from './abuse.js';
import { store } from './store.js';
import { maintenance } from './maintenance.js';
import { blocking, contention, deadline, firstBurst, poison, poolHeadlines } from './pool-bench.js';

type Out = { out: (s: string) => void; err: (s: string) => void };

const SCENARIOS = ['hol', 'throughput', 'scaling', 'startup', 'abuse', 'store', 'maintenance', 'blocking', 'contention', 'poison', 'deadline', 'firstburst'] as const;
const DEFAULT_SCENARIOS = ['hol', 'throughput', 'scaling', 'startup', 'blocking', 'contention', 'poison', 'deadline', 'firstburst'];

const HELP = `usage: dispatchd bench [${SCENARIOS.join('|')} ...] [options]

Runs hol, throughput, scaling and startup by default (about two minutes on 2 cores).
  --socket PATH        drive a running NDJSON JSON-RPC server instead of starting dispatchd
                       (hol and throughput only; no inline comparison)
  --seconds N          measuring time per run (default 8)
  --out DIR            where to write results (default bench/results/<timestamp>)
  hol:        --hol-seconds N (15, or --seconds)  --hol-connections K (4)  --slow-ms MS (50)  --interval-ms MS (20)
              --slow-method NAME (spin) --fast-method NAME (echo)  --threads N
  throughput: --method NAME (echo)  --settings C:P,C:P (16:1,16:32)
              dispatchd, the inline echo ceiling, a minimal piscina server and the asyncio baseline,
              measured in alternating rounds (the machine's load drifts; a ratio must not measure it)
  scaling:    --max-threads N (max(2, cores))  --iterations N (2000000)
              beside it, the same loop in 1..N plain node processes in the same rounds (the machine's own speed-up)
  startup:    --runs N (7)  interleaved runs per target
  abuse:      worst-case 1 MiB lines, distinct method names; --abuse-seconds N (60)  --cycles N (1000)   (not in the default run)
  store:      --records N (100000)   built-in store, capture/recall (not in the default run)
  maintenance: echo latency while maintenance cycles run vs none (not in the default run)
  blocking:   10 clients × 5 sequential 50 ms blocking calls, 3 parallel 300 ms (vs asyncio baseline if python3)
  contention: --nices N,N (0,10)  a fixed ~40 ms CPU call with two CPU hogs running, per --slow-nice
  poison:     8 clients pipelining echo while one attacker's calls exit or loop (200 ms deadline)
  deadline:   ten pipelined 30 ms calls and one 300 ms call under a 100 ms deadline
  firstburst: 512 pipelined calls of a new method vs warm; C16 P32 max latency on a fresh daemon
`;

export async function runBench(argv: string[], io: Out): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        socket: { type: 'string' },
        seconds: { type: 'string' },
        'hol-seconds': { type: 'string' },
        out: { type: 'string' },
        'hol-connections': { type: 'string' },
        'slow-ms': { type: 'string' },
        'interval-ms': { type: 'string' },
        'slow-method': { type: 'string' },
        'fast-method': { type: 'string' },
        threads: { type: 'string' },
        method: { type: 'string' },
        settings: { type: 'string' },
        'max-threads': { type: 'string' },
        iterations: { type: 'string' },
        runs: { type: 'string' },
        'abuse-seconds': { type: 'string' },
        cycles: { type: 'string' },
        records: { type: 'string' },
        nices: { type: 'string' },
      },
    });
  } catch (err) {
    // One line: node's message without its paragraph about `--`.
    io.err(`dispatchd bench: ${(err as Error).message.split('. ')[0]}; see dispatchd bench --help\n`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    io.out(HELP);
    return 0;
  }
  const chosen = parsed.positionals.length > 0 ? parsed.positionals : DEFAULT_SCENARIOS;
  for (const s of chosen) {
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      io.err(`dispatchd bench: unknown scenario '${s}' (one of ${SCENARIOS.join(', ')}); see dispatchd bench --help\n`);
      return 2;
    }
  }
  const num = (s: string | undefined, d: number): number => (s === undefined ? d : Number(s));
  const ms = num(v.seconds, 8) * 1000;
  const socket = v.socket;
  const startedAt = new Date().toISOString();
  const outDir = v.out ?? join(process.cwd(), 'bench', 'results', startedAt.replace(/[:.]/g, '-'));

  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: '{label} [{bar}] {percentage}%', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic) : null;
  let current = '';
  const progress: Progress = (label, frac) => {
    if (label !== current) {
      current = label;
      if (bar) {
        bar.stop();
        bar.start(100, 0, { label: label.padEnd(36) });
      } else io.err(`bench: ${label}\n`);
    }
    bar?.update(Math.round(Math.min(1, frac) * 100), { label: label.padEnd(36) });
  };

  const results: Results = { startedAt, machine: { cpus: availableParallelism(), node: process.version, platform: process.platform } };
  try {
    if (chosen.includes('hol')) {
      results.hol = await hol(
        {
          socket,
          connections: num(v['hol-connections'], 4),
          slowMs: num(v['slow-ms'], 50),
          intervalMs: num(v['interval-ms'], 20),
          // p99 of a probe every ~20 ms needs more samples than the other scenarios.
          ms: v['hol-seconds'] !== undefined ? Number(v['hol-seconds']) * 1000 : v.seconds !== undefined ? ms : 15_000,
          slowMethod: v['slow-method'] ?? 'spin',
          fastMethod: v['fast-method'] ?? 'echo',
          ...(v.threads ? { threads: Number(v.threads) } : {}),
          variants: ['pool', 'pool-nice-10', 'pool-no-lanes', 'inline'],
        },
        progress,
      );
    }
    if (chosen.includes('throughput')) {
      const settings = (v.settings ?? '16:1,16:32').split(',').map((s) => s.split(':').map(Number) as [number, number]);
      results.throughput = await throughput({ socket, settings, ms: Math.min(ms, 6000), method: v.method ?? 'echo', ceiling: true }, progress);
    }
    if (chosen.includes('scaling') && !socket) {
      results.scaling = await scaling({ maxThreads: num(v['max-threads'], Math.max(2, availableParallelism())), ms, iterations: num(v.iterations, 2_000_000) }, progress);
    }
    if (chosen.includes('startup') && !socket) {
      results.startup = await startup({ runs: num(v.runs, 7) }, progress);
    }
    if (chosen.includes('maintenance') && !socket) {
      results.maintenance = await maintenance({ ms }, progress);
    }
    if (chosen.includes('store') && !socket) {
      results.store = await store({ records: num(v.records, 100_000), ms }, progress);
    }
    const pool: NonNullable<Results['pool']> = {};
    if (chosen.includes('blocking') && !socket) pool.blocking = await blocking(progress);
    if (chosen.includes('contention') && !socket) pool.contention = await contention((v.nices ?? '0,10').split(',').map(Number), progress);
    if (chosen.includes('poison') && !socket) pool.poison = await poison({ ms: Math.min(ms, 8000) }, progress);
    if (chosen.includes('deadline') && !socket) pool.deadline = await deadline(progress);
    if (chosen.includes('firstburst') && !socket) pool.firstBurst = await firstBurst({ ms: 2000 }, progress);
    if (Object.keys(pool).length > 0) results.pool = pool;
    if (chosen.includes('abuse') && !socket) {
      results.abuse = await abuse({ seconds: num(v['abuse-seconds'], 60), cycles: num(v.cycles, 1000) }, progress);
    }
  } finally {
    bar?.stop();
  }
  results.headlines = headlines(results);
  const files = writeReport(outDir, results);
  io.out(`${markdown(results)}\n\nwritten: ${files.join(', ')}\n`);
  const lost = [...(results.hol ?? []).map((h) => h.lost), ...(results.throughput ?? []).map((t) => t.result.lost), ...(results.scaling ?? []).map((s) => s.lost)].reduce((a, b) => a + b, 0);
  if (lost > 0) io.err(`bench: ${lost} responses were lost\n`);
  return lost > 0 ? 1 : 0;
}

const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

/** The headline ratios, each measured in this one run, with the targets they are held to. */
export function headlines(r: Results): Headline[] {
  const out: Headline[] = [];
  const pool = r.hol?.find((h) => h.target === 'pool');
  const inline = r.hol?.find((h) => h.target === 'inline');
  if (pool) {
    out.push({ name: 'hol: status probe p99 (pool)', value: `${pool.status.p99} ms`, target: '≤ 5 ms', met: pool.status.p99 <= 5 });
    out.push({ name: 'hol: echo probe p99 (pool)', value: `${pool.echo.p99} ms`, target: '≤ 10 ms', met: pool.echo.p99 <= 10 });
  }
  if (pool && inline) {
    out.push({ name: 'hol: status p99 inline ÷ pool', value: `${ratio(inline.status.p99, pool.status.p99)}×` });
    out.push({ name: 'hol: echo p99 inline ÷ pool', value: `${ratio(inline.echo.p99, pool.echo.p99)}×` });
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
  if (r.store) {
    for (const row of r.store.rows) {
      out.push({ name: `store (${r.store.records} records): ${row.method} C=${row.connections}`, value: `${row.result.callsPerSec} calls/s, p50 ${row.result.latency.p50} ms, p99 ${row.result.latency.p99} ms, ${row.result.errors} errors` });
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
      name: 'hol: default (slow-nice 0) vs slow-nice 10: status p99, echo p99, slow calls/s',
      value: `${noNice.status.p99} / ${nice10.status.p99} ms, ${noNice.echo.p99} / ${nice10.echo.p99} ms, ${noNice.slowCallsPerSec} / ${nice10.slowCallsPerSec}`,
    });
  }
  if (r.startup) out.push(...startupHeadlines(r.startup));
  return out;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exitCode = await runBench(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
}
