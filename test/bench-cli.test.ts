/**
 * `dispatchd bench` as a user runs it, as a child process: the exit codes a
 * CI job gates on, the files it reads, and that the process ends as soon as
 * it has printed its last line (no timer outlives the run). Short runs,
 * generous bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sqliteBindings } from '../bench/bindings.js';
import { BENCH_FIXTURE, BIN, STALL_SERVER } from '../bench/procs.js';

interface Ran {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
  /** ms from the last byte written to exit. */
  readonly tailMs: number;
}

function bench(args: readonly string[], timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let last = performance.now();
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      last = performance.now();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      last = performance.now();
    });
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, out, err, tailMs: performance.now() - last });
    });
  });
}

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync('/tmp/ddbt-');
  dirs.push(d);
  return d;
};
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const stalling = `${process.execPath} ${STALL_SERVER} {socket} --every 1000 --stall 300`;
const CALLS = ['--slow-call', 'sleep {"ms":50}', '--fast-call', 'echo {"x":1}'];

test('hol against a stalling server (--cmd): the assertion it breaches exits 3, with JUnit and summary written, and the process ends at once', { timeout: 60_000 }, async () => {
  const out = tmp();
  const junit = join(out, 'junit.xml');
  const r = await bench(['hol', '--cmd', stalling, ...CALLS, '--hol-seconds', '3', '--assert', 'hol.echo.p99 < 150ms', '--assert', 'hol.closed.echo.p50 < 150ms', '--junit', junit, '--out', out]);
  assert.equal(r.code, 3, r.err + r.out);
  assert.ok(r.tailMs < 2000, `exited ${Math.round(r.tailMs)} ms after its last line`);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { schema: string; version: number; exitCode: number; checks: { text: string; ok: boolean }[]; figures: Record<string, number> };
  assert.equal(summary.schema, 'dispatchd-bench-summary');
  assert.equal(summary.version, 1);
  assert.equal(summary.exitCode, 3);
  assert.deepEqual(
    summary.checks.map((c) => [c.text, c.ok]),
    [
      ['hol.echo.p99 < 150ms', false],
      ['hol.closed.echo.p50 < 150ms', true],
      ['errors == 0', true],
    ],
  );
  assert.equal(summary.figures.errors, 0);
  assert.match(readFileSync(junit, 'utf8'), /<failure type="assert"/);
  assert.ok(existsSync(join(out, 'logs')), 'the server\'s log folder');
});

test('hol against dispatchd on a module (--dispatch): a bound it meets exits 0', { timeout: 60_000 }, async () => {
  const out = tmp();
  const r = await bench(['hol', '--dispatch', BENCH_FIXTURE, '--slow-call', 'spin {"ms":50}', '--fast-call', 'echo {}', '--hol-seconds', '2', '--assert', 'hol.echo.p99 < 10s', '--assert', 'hol.slow.rps > 0', '--out', out]);
  assert.equal(r.code, 0, r.err + r.out);
  assert.ok(r.tailMs < 2000, `exited ${Math.round(r.tailMs)} ms after its last line`);
});

test('usage errors exit 2 in one line, before anything runs: a misspelled figure, a missing socket, a scenario the target cannot run', { timeout: 30_000 }, async () => {
  const typo = await bench(['hol', '--assert', 'hol.echo.p999 < 20ms']);
  assert.equal(typo.code, 2);
  assert.match(typo.err, /unknown figure 'hol\.echo\.p999'/);
  const missing = await bench(['hol', '--socket', '/tmp/ddbt-no-such.sock', ...CALLS]);
  assert.equal(missing.code, 2);
  assert.equal(missing.err.trim().split('\n').length, 1, missing.err);
  assert.match(missing.err, /cannot connect to \/tmp\/ddbt-no-such\.sock: ENOENT/);
  assert.doesNotMatch(missing.err, /\n\s+at /);
  const scaling = await bench(['scaling', '--socket', '/tmp/ddbt-no-such.sock']);
  assert.equal(scaling.code, 2);
  assert.match(scaling.err, /only against the bench's own fixture/);
  const noCall = await bench(['hol', '--socket', '/tmp/ddbt-no-such.sock']);
  assert.equal(noCall.code, 2);
  assert.match(noCall.err, /--slow-call/);
});

test('a call the target answers with an error is refused (exit 2), and the scenarios that ran keep their results', { timeout: 60_000 }, async () => {
  const out = tmp();
  const r = await bench(['throughput', 'blocking', '--cmd', stalling, '--slow-call', 'sleep {"ms":20}', '--fast-call', 'boom', '--settings', '2:1', '--seconds', '0.5', '--out', out]);
  assert.equal(r.code, 2, r.err + r.out);
  assert.match(r.err, /throughput cannot run: .*answered --fast-call 'boom' with error -32601/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { scenarios: Record<string, { status: string }>; figures: Record<string, number> };
  assert.deepEqual(Object.fromEntries(Object.entries(summary.scenarios).map(([k, v]) => [k, v.status])), { throughput: 'refused', blocking: 'ok' });
  assert.ok((summary.figures['blocking.ten_by_five_ms'] ?? 0) > 0);
  assert.equal(summary.figures.errors, 0);
});

test('a server that dies mid-run: its scenario failed (exit 1), the one before it keeps its results, and the bench still ends at once', { timeout: 60_000 }, async () => {
  const out = tmp();
  const dying = `${process.execPath} ${STALL_SERVER} {socket} --every 100000 --die-after 2500`;
  const r = await bench(['blocking', 'hol', '--cmd', dying, '--slow-call', 'sleep {"ms":20}', '--fast-call', 'echo {}', '--hol-seconds', '5', '--out', out]);
  assert.equal(r.code, 1, r.err + r.out);
  assert.ok(r.tailMs < 2000, `exited ${Math.round(r.tailMs)} ms after its last line`);
  assert.match(r.err, /bench: hol failed: /);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { scenarios: Record<string, { status: string }>; figures: Record<string, number>; exitCode: number };
  assert.deepEqual(Object.fromEntries(Object.entries(summary.scenarios).map(([k, v]) => [k, v.status])), { blocking: 'ok', hol: 'failed' });
  assert.ok((summary.figures['blocking.ten_by_five_ms'] ?? 0) > 0);
  assert.equal(summary.exitCode, 1);
  assert.match(readFileSync(join(out, 'results.md'), 'utf8'), /## Checks\n\n- scenario hol: FAILED — /);
});

test('an interrupted run (SIGTERM) stops the server it started, even one in its own process group, and dies of the signal', { timeout: 60_000 }, async () => {
  const out = tmp();
  const pidFile = join(out, 'server.pid');
  const child = spawn(process.execPath, [BIN, 'bench', 'hol', '--cmd', `echo $$ > ${pidFile}; exec ${process.execPath} ${STALL_SERVER} {socket} --every 100000`, ...CALLS, '--hol-seconds', '30', '--out', out], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
  for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1500)); // into the measurement
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(pid > 0);
  child.kill('SIGTERM');
  assert.equal(await exited, 'SIGTERM');
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 20 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(alive(), false, `server ${pid} outlived the bench`);
});

test('the store scenario measures each SQLite binding this Node and install have, in one run, without errors', { timeout: 120_000 }, async () => {
  const out = tmp();
  const r = await bench(['store', '--records', '300', '--seconds', '1', '--out', out], 110_000);
  assert.equal(r.code, 0, `${r.out}\n${r.err}`);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { store: { records: number; rows: { binding: string; method: string; connections: number; result: { calls: number; errors: number; lost: number } }[] } };
  const bindings = [...new Set(results.store.rows.map((x) => x.binding))].sort();
  assert.deepEqual(bindings, sqliteBindings().sort());
  assert.ok(results.store.records >= 300, `records ${results.store.records}`);
  for (const row of results.store.rows) {
    assert.ok(row.result.calls > 0, `${row.binding} ${row.method} C=${row.connections}: no calls`);
    assert.equal(row.result.errors + row.result.lost, 0, `${row.binding} ${row.method} C=${row.connections}`);
  }
  assert.match(readFileSync(join(out, 'results.md'), 'utf8'), /## store — the built-in store with \d+ records, by SQLite binding/);
});
