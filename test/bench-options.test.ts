/**
 * The bench's command line, checked before anything runs: targets in the
 * order given, calls as `METHOD {json}`, and every impossible request a
 * usage error naming the flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCall } from '../bench/calls.js';
import { BenchUsageError } from '../bench/failures.js';
import { parsePlan } from '../bench/options.js';
import { BENCH_FIXTURE } from '../bench/procs.js';

const plan = (...argv: string[]) => parsePlan(argv, '/tmp', new Date(0));

test('calls: a method, optionally with object or array params', () => {
  assert.deepEqual(parseCall('ping', '--fast-call'), { method: 'ping' });
  assert.deepEqual(parseCall('sleep {"ms": 50}', '--slow-call'), { method: 'sleep', params: { ms: 50 } });
  assert.deepEqual(parseCall(' add [1, 2] ', '--fast-call'), { method: 'add', params: [1, 2] });
  assert.throws(() => parseCall('sleep {ms: 50}', '--slow-call'), /--slow-call: params of 'sleep' are not JSON/);
  assert.throws(() => parseCall('sleep 50', '--slow-call'), /must be an object or an array/);
  assert.throws(() => parseCall('   ', '--slow-call'), BenchUsageError);
});

test('targets keep their command-line order: the first is measured, the second is its baseline', () => {
  const p = plan('throughput', '--cmd', 'python3 s.py {socket}', '--dispatch', `${BENCH_FIXTURE} --inline`, '--fast-call', 'echo');
  assert.deepEqual(
    p?.targets.map((t) => [t.kind, t.name]),
    [
      ['cmd', 'python3 s.py {socket}'],
      ['dispatch', 'fixture --inline'],
    ],
  );
  const same = plan('throughput', '--dispatch', BENCH_FIXTURE, '--dispatch', BENCH_FIXTURE, '--fast-call', 'echo');
  assert.deepEqual(same?.targets.map((t) => t.name), ['fixture', 'fixture (2)']);
  assert.deepEqual(plan('--socket', '/tmp/x.sock', '--slow-call', 's', '--fast-call', 'f')?.scenarios, ['hol', 'throughput']);
});

test('usage errors: each names what is wrong', () => {
  const cases: [string[], RegExp][] = [
    [['nope'], /unknown scenario 'nope'/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['scaling', '--socket', '/tmp/x.sock'], /only against the bench's own fixture/],
    [['hol', '--socket', '/tmp/x.sock', '--fast-call', 'f'], /need --slow-call/],
    [['throughput', '--socket', '/tmp/x.sock'], /need --fast-call/],
    [['--dispatch', '/tmp/no-such-module.js'], /no such module/],
    [['--socket', 'a', '--socket', 'b', '--socket', 'c'], /at most two targets/],
    [['--rate', '0'], /--rate: expected a number ≥ 1/],
    [['--seconds', 'ten'], /--seconds: expected a number/],
    [['--settings', '16x1'], /--settings: expected C:P/],
    [['--targets', 'maybe'], /--targets: enforce or report/],
  ];
  for (const [argv, why] of cases) assert.throws(() => plan(...argv), (err: unknown) => err instanceof BenchUsageError && why.test(err.message), argv.join(' '));
  assert.equal(plan('--help'), null);
});

test('{seq} in the params text gives every call its own six-digit number (a server that caches by params still works)', async () => {
  const { nextParams } = await import('../bench/calls.js');
  const call = parseCall('primes_below {"n":3{seq}}', '--slow-call');
  assert.deepEqual(call.params, { n: 3000000 });
  const a = nextParams(call) as { n: number };
  const b = nextParams(call) as { n: number };
  assert.ok(a.n > 3000000 && a.n < 4000000 && b.n === a.n + 1, `${a.n} ${b.n}`);
  assert.deepEqual(nextParams(parseCall('echo {"x":1}', '--fast-call')), { x: 1 });
  assert.throws(() => parseCall('f {"n":{seq}}', '--fast-call'), /not JSON/);
});
