/**
 * The bench's checks: assertion expressions, figure names checked before a
 * run, the exit codes, and the JUnit XML (parsed by a real XML parser:
 * python3's xml.etree, when python3 is there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { check, namesOf, parseAssertion } from '../bench/assertions.js';
import { BenchUsageError } from '../bench/failures.js';
import { figures, unknownFigure, METRICS } from '../bench/figures.js';
import { junitXml } from '../bench/junit.js';
import { EXIT, SUMMARY_VERSION, exitCode, type Summary } from '../bench/summary.js';
import type { HolResult } from '../bench/hol.js';

const FIGS = new Map([
  ['hol.echo.p99', 12.5],
  ['throughput.rps', 900],
  ['baseline.throughput.rps', 1000],
  ['errors', 0],
]);

test('assertions: comparisons, arithmetic, units, and names', () => {
  assert.equal(check(parseAssertion('hol.echo.p99 < 20ms'), FIGS).ok, true);
  assert.equal(check(parseAssertion('hol.echo.p99 < 0.01s'), FIGS).ok, false);
  assert.equal(check(parseAssertion('throughput.rps >= 0.5 * baseline.throughput.rps'), FIGS).ok, true);
  assert.equal(check(parseAssertion('throughput.rps >= 95% * baseline.throughput.rps'), FIGS).ok, false);
  assert.equal(check(parseAssertion('(throughput.rps - 100) / 2 == 400'), FIGS).ok, true);
  assert.equal(check(parseAssertion('errors == 0'), FIGS).ok, true);
  assert.equal(check(parseAssertion('errors != 0'), FIGS).ok, false);
  assert.deepEqual(namesOf(parseAssertion('hol[pool-nice-10].echo.p99 <= 2 * hol[inline].echo.p99')), ['hol[pool-nice-10].echo.p99', 'hol[inline].echo.p99']);
  const failed = check(parseAssertion('hol.echo.p99 < 10ms'), FIGS);
  assert.equal(failed.left, 12.5);
  assert.equal(failed.right, 10);
  assert.match(failed.message, /12\.5 < 10 is false/);
});

test('a figure the run did not produce fails the check, never passes it', () => {
  const c = check(parseAssertion('hol[inline].echo.p99 > 0'), FIGS);
  assert.equal(c.ok, false);
  assert.match(c.message, /not measured/);
});

test('malformed expressions are usage errors', () => {
  for (const bad of ['hol.echo.p99', 'hol.echo.p99 < ', '< 3', 'hol.echo.p99 << 3', 'hol.echo.p99 < 3 4', '(errors == 0', 'errors = 0']) {
    assert.throws(() => parseAssertion(bad), BenchUsageError, bad);
  }
});

test('figure names are checked against the run\'s scenarios before it starts', () => {
  assert.equal(unknownFigure('errors', []), null);
  assert.equal(unknownFigure('hol.echo.p99', ['hol']), null);
  assert.equal(unknownFigure('baseline.throughput.c16p32.rps', ['throughput']), null);
  assert.equal(unknownFigure('hol[inline].closed.echo.p99', ['hol']), null);
  assert.match(unknownFigure('hol.echo.p98', ['hol']) ?? '', /unknown figure/);
  assert.match(unknownFigure('hol.echo.p99', ['throughput']) ?? '', /does not include/);
  assert.match(unknownFigure('hols.echo.p99', ['hol']) ?? '', /unknown figure/);
  assert.match(unknownFigure('erors', ['hol']) ?? '', /unknown figure/);
});

test('the figures of a hol row are exactly the names METRICS declares, plain for the target under test', () => {
  const P = { count: 300, p50: 1, p90: 2, p99: 3, max: 4 };
  const row: HolResult = { target: 'mine', status: P, echo: P, open: { rate: 50, sent: 300, ok: 300, errors: 1, codes: { '-32601': 1 }, lost: 2, latency: P, status: P }, slowCallsPerSec: 10, slowCalls: 100, lost: 2, errors: 1, codes: { '-32601': 1 } };
  const f = figures({ startedAt: 't', machine: { cpus: 2, node: 'v20', platform: 'linux' }, hol: [row] }, { primary: { hol: 'mine' }, baseline: {} });
  const plain = [...f.keys()].filter((k) => k.startsWith('hol.')).map((k) => k.slice(4));
  assert.deepEqual(plain.sort(), [...METRICS.hol].sort());
  assert.equal(f.get('errors'), 3);
  assert.equal(f.get('hol[mine].errors'), 3);
});

test('exit codes: a failed scenario over a refused one over a failed check', () => {
  const ok = { status: 'ok' as const, seconds: 1 };
  const pass = { text: 'errors == 0', ok: true, left: 0, right: 0, message: 'held', kind: 'errors' as const };
  const fail = { ...pass, ok: false };
  assert.equal(exitCode({ hol: ok }, [pass]), EXIT.ok);
  assert.equal(exitCode({ hol: ok }, [pass, fail]), EXIT.checkFailed);
  assert.equal(exitCode({ hol: ok, b: { status: 'refused', seconds: 0 } }, [fail]), EXIT.usage);
  assert.equal(exitCode({ hol: { status: 'failed', seconds: 0 }, b: { status: 'refused', seconds: 0 } }, [fail]), EXIT.scenarioFailed);
  assert.deepEqual([EXIT.ok, EXIT.scenarioFailed, EXIT.usage, EXIT.checkFailed], [0, 1, 2, 3]);
});

const python = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0;

/** The XML as python3's xml.etree reads it: suites, cases, their failure or error. */
function parseXml(xml: string): unknown {
  const code = `
import sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
def case(c):
    out = {"classname": c.get("classname"), "name": c.get("name"), "time": c.get("time")}
    for k in ("failure", "error"):
        e = c.find(k)
        if e is not None: out[k] = {"type": e.get("type"), "message": e.get("message")}
    return out
print(json.dumps({"tag": root.tag, "attrs": dict(root.attrib), "suites": [{"tag": s.tag, "attrs": dict(s.attrib), "cases": [case(c) for c in s]} for s in root]}))
`;
  const r = spawnSync('python3', ['-c', code], { input: xml, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('JUnit XML: one test case per scenario and per check, failures and errors where they belong, text escaped', { skip: !python && 'python3 not found' }, () => {
  const summary: Summary = {
    schema: 'dispatchd-bench-summary',
    version: SUMMARY_VERSION,
    startedAt: '2026-01-01T00:00:00.000Z',
    seconds: 12.5,
    machine: { cpus: 2, node: 'v20', platform: 'linux' },
    targets: [{ name: 'mine', kind: 'socket', startMs: 0 }],
    scenarios: { hol: { status: 'ok', seconds: 10 }, throughput: { status: 'failed', seconds: 2, error: 'the server closed the connection <&>' } },
    figures: { 'hol.echo.p99': 60, errors: 0 },
    errorCodes: {},
    checks: [
      { text: 'hol.echo.p99 < 50ms', ok: false, left: 60, right: 50, message: '60 < 50 is false', kind: 'assert' },
      { text: 'errors == 0', ok: true, left: 0, right: 0, message: 'held', kind: 'errors' },
    ],
    exitCode: 1,
  };
  const doc = parseXml(junitXml(summary)) as { tag: string; attrs: Record<string, string>; suites: { tag: string; attrs: Record<string, string>; cases: Record<string, unknown>[] }[] };
  assert.equal(doc.tag, 'testsuites');
  assert.deepEqual([doc.attrs.tests, doc.attrs.failures, doc.attrs.errors], ['4', '1', '1']);
  assert.equal(doc.suites.length, 1);
  const [suite] = doc.suites;
  assert.equal(suite?.tag, 'testsuite');
  assert.deepEqual(suite?.cases, [
    { classname: 'bench.scenario', name: 'hol', time: '10.000' },
    { classname: 'bench.scenario', name: 'throughput', time: '2.000', error: { type: 'failed', message: 'the server closed the connection <&>' } },
    { classname: 'bench.assert', name: 'hol.echo.p99 < 50ms', time: '0', failure: { type: 'assert', message: '60 < 50 is false' } },
    { classname: 'bench.errors', name: 'errors == 0', time: '0' },
  ]);
});
