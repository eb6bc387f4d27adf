/**
 * Prometheus text output: `dispatchd metrics` and the opt-in /metrics
 * listener, parsed by a strict reader of the exposition format (names, HELP
 * and TYPE before samples, counters named *_total, no duplicate series), and
 * a counter that grows with calls. Against a real daemon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { get, type IncomingMessage } from 'node:http';
import { ConfigError, resolveConfig } from '../src/config.js';
import { renderMetrics } from '../src/observability/openmetrics.js';
import { Conn, join, rpc, spawnCli } from './helper.js';
import { startDaemon, tempDir } from './daemons.js';

interface Parsed {
  readonly types: Map<string, string>;
  /** series (name + sorted labels) → value */
  readonly samples: Map<string, number>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Parses Prometheus text format 0.0.4 strictly; throws on anything malformed. */
function parse(text: string): Parsed {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples = new Map<string, number>();
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP (\S+) (.+)$/.exec(line))) {
      assert.match(m[1] as string, NAME);
      assert.ok(!helped.has(m[1] as string), `second HELP for ${m[1]}`);
      helped.add(m[1] as string);
    } else if ((m = /^# TYPE (\S+) (counter|gauge|summary|histogram|untyped)$/.exec(line))) {
      assert.ok(!types.has(m[1] as string), `second TYPE for ${m[1]}`);
      types.set(m[1] as string, m[2] as string);
    } else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line))) {
      const name = m[1] as string;
      const family = [...types.keys()].find((f) => name === f || (types.get(f) === 'summary' && (name === `${f}_sum` || name === `${f}_count`)));
      assert.ok(family, `sample ${name} before its TYPE line`);
      assert.ok(helped.has(family), `no HELP for ${family}`);
      const labels = m[2] === undefined ? [] : [...(m[2] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/g)].map((l) => `${l[1]}=${l[2]}`);
      if (m[2] !== undefined) assert.equal(labels.join(',').length > 0, true, `labels of ${line}`);
      const value = m[3] === 'NaN' ? Number.NaN : m[3] === '+Inf' ? Infinity : Number(m[3]);
      assert.ok(m[3] === 'NaN' || !Number.isNaN(value), `value of ${line}`);
      const key = `${name}{${labels.sort().join(',')}}`;
      assert.ok(!samples.has(key), `duplicate series ${key}`);
      samples.set(key, value);
    } else {
      assert.fail(`not a valid line: ${JSON.stringify(line)}`);
    }
  }
  for (const [name, type] of types) {
    if (type === 'counter') assert.match(name, /_total$/, `counter ${name} must end in _total`);
    assert.match(name, /^(dispatchd|process)_/, name);
  }
  return { types, samples };
}

async function cliMetrics(socket: string): Promise<Parsed> {
  const child = spawnCli(['metrics', '--socket', socket]);
  assert.equal(await child.exited, 0, child.stderr);
  return parse(child.stdout);
}

test('dispatchd metrics prints valid Prometheus text, and dispatchd_calls_total grows with calls', async (t) => {
  const d = await startDaemon(t);
  const before = await cliMetrics(d.socket);
  assert.equal(before.types.get('dispatchd_calls_total'), 'counter');
  assert.equal(before.types.get('dispatchd_call_duration_seconds'), 'summary');
  assert.equal(before.types.get('dispatchd_connections'), 'gauge');
  assert.equal(before.types.get('process_resident_memory_bytes'), 'gauge');
  assert.ok((before.samples.get('process_resident_memory_bytes{}') ?? 0) > 1e6);
  const calls0 = before.samples.get('dispatchd_calls_total{}');
  assert.equal(typeof calls0, 'number');
  const c = await Conn.open(d.socket);
  for (let i = 0; i < 5; i++) c.send(rpc(i, 'echo', { i }));
  c.send(rpc(99, 'nope'));
  await c.waitLines(6);
  c.close();
  const after = await cliMetrics(d.socket);
  assert.equal(after.samples.get('dispatchd_calls_total{}'), (calls0 as number) + 6);
  assert.equal(after.samples.get('dispatchd_call_errors_total{}'), (before.samples.get('dispatchd_call_errors_total{}') ?? 0) + 1);
  assert.equal(after.samples.get('dispatchd_call_duration_seconds_count{}'), (calls0 as number) + 6);
  const p50 = after.samples.get('dispatchd_call_duration_seconds{quantile=0.5}') as number;
  const p99 = after.samples.get('dispatchd_call_duration_seconds{quantile=0.99}') as number;
  assert.ok(p50 >= 0 && p50 <= p99 && p99 < 5, `p50 ${p50} p99 ${p99} (seconds)`);
  assert.ok((after.samples.get('dispatchd_call_duration_seconds_sum{}') as number) > 0);
  assert.equal(after.samples.get('dispatchd_method_calls_total{lane=fast,method=echo}'), 5);
  assert.equal(after.samples.get('dispatchd_fsm_state{state=WAKE}'), 1);
});

function scrape(opts: { socketPath: string } | { host: string; port: number }, path = '/metrics'): Promise<{ res: IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    get({ ...opts, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ res, body }));
    }).on('error', reject);
  });
}

test('--metrics-listen on a unix path serves /metrics (0600); other paths are 404', async (t) => {
  const logs: Record<string, unknown>[] = [];
  const path = join(tempDir(t), 'metrics.sock');
  await startDaemon(t, { metricsListen: path }, { logs });
  const { res, body } = await scrape({ socketPath: path });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.equal(parse(body).types.get('dispatchd_calls_total'), 'counter');
  assert.equal((await scrape({ socketPath: path }, '/')).res.statusCode, 404);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.ok(logs.some((l) => l.msg === 'serving metrics at /metrics' && l.metrics === path));
});

test('--metrics-listen 127.0.0.1:0 serves /metrics on loopback TCP', async (t) => {
  const logs: Record<string, unknown>[] = [];
  await startDaemon(t, { metricsListen: '127.0.0.1:0' }, { logs });
  const line = logs.find((l) => l.msg === 'serving metrics at /metrics');
  const m = /^127\.0\.0\.1:(\d+)$/.exec(String(line?.metrics));
  assert.ok(m, JSON.stringify(line));
  const { res, body } = await scrape({ host: '127.0.0.1', port: Number(m[1]) });
  assert.equal(res.statusCode, 200);
  assert.ok(parse(body).samples.has('dispatchd_connections{}'));
});

test('--metrics-listen refuses non-loopback hosts with a ConfigError', () => {
  for (const bad of ['0.0.0.0:9464', '192.168.1.10:9464', 'example.com:80', ':9464', '[::]:9464', '9464', '127.0.0.1:70000']) {
    assert.throws(() => resolveConfig({ metricsListen: bad }, {}), ConfigError, bad);
  }
  assert.throws(() => resolveConfig({}, { DISPATCHD_METRICS_LISTEN: '10.0.0.1:1' }), /not a loopback address/);
  assert.equal(resolveConfig({ metricsListen: '127.0.0.1:9464' }, {}).metricsListen, '127.0.0.1:9464');
  assert.equal(resolveConfig({ metricsListen: 'localhost:9464' }, {}).metricsListen, 'localhost:9464');
  assert.equal(resolveConfig({ metricsListen: '::1:9464' }, {}).metricsListen, '[::1]:9464');
  assert.equal(resolveConfig({ metricsListen: 'unix:m.sock' }, {}, '/srv').metricsListen, '/srv/m.sock');
  assert.equal(resolveConfig({}, {}).metricsListen, null);
});

test('renderMetrics reads any status: missing fields are left out, labels are escaped', () => {
  const text = renderMetrics({ version: 'x"\\\ny', pool: { completed: 3, run_ms: { count: 0, p50: 0, p90: 0, p99: 0, max: 0, sum: 0 } } });
  const p = parse(text);
  assert.equal(p.samples.get('dispatchd_calls_total{}'), 3);
  assert.ok(Number.isNaN(p.samples.get('dispatchd_call_duration_seconds{quantile=0.5}') as number), 'an empty summary has NaN quantiles');
  assert.ok(text.includes('dispatchd_info{version="x\\"\\\\\\ny"} 1'), text);
  assert.equal(p.types.has('dispatchd_connections'), false);
});

test('a --metrics-listen port already taken fails the start before the socket is bound, and releases everything', async (t) => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => taken.close(() => r())));
  const port = (taken.address() as AddressInfo).port;
  const home = tempDir(t);
  const logs: Record<string, unknown>[] = [];
  await assert.rejects(startDaemon(t, { metricsListen: `127.0.0.1:${port}` }, { home, logs }), /EADDRINUSE/);
  assert.ok(!logs.some((l) => l.msg === 'listening'), 'the socket was never bound');
  assert.equal(existsSync(join(home, 'daemon.sock')), false);
  // The lock and the pool were released: the same home starts at once with a free port.
  await startDaemon(t, { metricsListen: '127.0.0.1:0' }, { home });
});

test('renderMetrics takes a reply whose parts have other shapes (another version) without throwing', () => {
  const odd = { pool: { completed: 3, lanes: { methods: { echo: 1 } } } } as unknown as Parameters<typeof renderMetrics>[0];
  const text = renderMetrics(odd);
  assert.match(text, /^dispatchd_calls_total 3$/m);
  assert.doesNotMatch(text, /dispatchd_method_calls_total\{/);
});
