/**
 * The CLI as people type it: help that runs nothing, per-command flags,
 * one-line usage errors (exit 2), the hints, and what each command loads.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/main.js';
import { COMMANDS } from '../src/cli/commands.js';
import { BIN, FIXTURE, roundTrip, startDaemon, tmpHome, waitForSocket } from './helper.js';
import { ErrorCode } from '../src/contract/errors.js';
import { status as statusReply } from './status.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const RECORDER = fileURLToPath(new URL('./fixtures/record-loads.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The CLI runs from esbuild's bundle (dist/cli/): a loaded chunk stands for
 * the modules bundled into it, which esbuild names in a `// path` comment
 * (relative to the repository) before each one. Other URLs stand for themselves.
 */
function modulesOf(url: string): string[] {
  if (!/\/dist\/cli\/[^/]+\.js$/.test(url)) return [url];
  const text = readFileSync(url.startsWith('file:') ? fileURLToPath(url) : url, 'utf8');
  return [url, ...[...text.matchAll(/^\/\/ ((?:dist|node_modules)\/\S+)$/gm)].map((m) => `file://${ROOT}${m[1] as string}`)];
}

/** Runs the CLI in this process with captured output and an empty environment. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s) }, {});
  return { code, out, err };
}

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a child process (optionally recording what it loads) and waits for it to close. */
function child(args: string[], opts: { record?: string; onSpawn?: (kill: () => void) => void } = {}): Promise<Exited> {
  const pre = opts.record ? ['--import', RECORDER] : [];
  const env: NodeJS.ProcessEnv = { ...process.env, ...(opts.record ? { RECORD_LOADS: opts.record } : {}) };
  delete env.DISPATCHD_HOME;
  delete env.DISPATCHD_SOCKET;
  const p = spawn(process.execPath, [...pre, BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  opts.onSpawn?.(() => p.kill('SIGTERM'));
  return new Promise((resolve) => p.once('close', (code) => resolve({ code, stdout, stderr })));
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

describe('help and version', () => {
  test('--help lists every command, help, and --version; no arguments prints it to stderr with exit 2', async () => {
    const r = await cli('--help');
    assert.equal(r.code, 0);
    for (const name of [...Object.keys(COMMANDS), 'help [COMMAND]', '--version', '--help']) assert.ok(r.out.includes(name), name);
    const none = await cli();
    assert.equal(none.code, 2);
    assert.equal(none.out, '');
    assert.equal(none.err, r.out);
    // `help` takes --help like every command: the same text, exit 0.
    for (const argv of [['help', '--help'], ['help', '-h']]) assert.deepEqual(await cli(...argv), r, argv.join(' '));
  });

  test('--version and -v print the package version', async () => {
    for (const flag of ['--version', '-v']) assert.deepEqual(await cli(flag), { code: 0, out: `${VERSION}\n`, err: '' });
  });

  test('every command has its own --help, also as `help COMMAND`, naming its flags', async () => {
    for (const [name, c] of Object.entries(COMMANDS)) {
      if (c.kind === 'bench') continue;
      const r = await cli(name, '--help');
      assert.equal(r.code, 0, name);
      assert.ok(r.out.startsWith(`usage: dispatchd ${name}`), r.out);
      assert.deepEqual(await cli('help', name), r, name);
      assert.deepEqual(await cli('help', name, '--help'), r, `help ${name} --help`);
      assert.deepEqual(await cli(name, '-h'), r, name);
      if (c.kind === 'client') for (const flag of ['--home', '--socket', '--timeout-ms']) assert.ok(r.out.includes(flag), `${name} ${flag}`);
    }
    assert.ok((await cli('serve', '--help')).out.includes('--max-line-bytes'));
  });
});

describe('--help runs nothing', () => {
  test('pause/sleep/wake/rem/session-open/call with --help change nothing; without it they do', async (t) => {
    const d = await startDaemon({ threads: 1 });
    t.after(() => d.close());
    const attempts = [
      ['pause', '--help'],
      ['pause', '30', '--help'],
      ['sleep', 'lunch', '--help'],
      ['wake', '-h'],
      ['rem', '--help'],
      ['session-open', 's1', '--help'],
      ['call', 'echo', '{}', '--help'],
      ['resume', '--threads', '3', '--help'],
    ];
    for (const a of attempts) {
      const r = await cli(...a, '--home', d.home);
      assert.equal(r.code, 0, a.join(' '));
      assert.match(r.out, /^usage: /, a.join(' '));
    }
    const status = await statusReply(d.socket);
    assert.equal(status.scheduler_paused, false);
    assert.equal(status.pool.completed, 0);
    const state = JSON.parse(readFileSync(join(d.home, 'state.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['user_sleep_request', 'force_wake_request', 'force_rem_request', 'last_session_open']) assert.equal(state[key], undefined, key);
    // The same commands without --help do act, so the checks above can fail.
    assert.equal((await cli('pause', '--home', d.home)).code, 0);
    assert.equal((await roundTrip(d.socket, { type: 'status' })).scheduler_paused, true);
    const call = await cli('call', 'echo', '{"a":1}', '--home', d.home);
    assert.deepEqual([call.code, JSON.parse(call.out)], [0, { a: 1 }]);
  });
});

describe('usage errors: one line, exit 2, nothing sent', () => {
  const cases: [string[], RegExp][] = [
    [['status', '--threads', '3'], /^dispatchd status: unknown option --threads; see dispatchd status --help$/],
    [['status', '--pretty'], /^dispatchd status: unknown option --pretty;/],
    [['status', '-x'], /^dispatchd status: unknown option -x;/],
    [['frob'], /^dispatchd: unknown command 'frob'; see dispatchd --help$/],
    [['--frob'], /^dispatchd: unknown option --frob; see dispatchd --help$/],
    [['pause', 'abc'], /^dispatchd pause: SECONDS must be a whole number of seconds, got 'abc'; see dispatchd pause --help$/],
    [['pause', '1', '2'], /^dispatchd pause: unexpected argument '2';/],
    [['resume', '5'], /^dispatchd resume: unexpected argument '5' \(it takes none\);/],
    [['call', 'echo', '{}', 'extra'], /^dispatchd call: unexpected argument 'extra'; see dispatchd call --help$/],
    [['call'], /^dispatchd call: METHOD is missing;/],
    [['call', 'echo', '{"a":'], /^dispatchd call: JSON_PARAMS is not valid JSON \(/],
    [['call', 'echo', '5'], /^dispatchd call: JSON_PARAMS must be a JSON object or array, got 5;/],
    [['status', '--socket'], /^dispatchd status: option --socket needs a value;/],
    [['status', '--socket', '--timeout-ms', '5'], /^dispatchd status: option --socket needs a value;/],
    [['status', '--timeout-ms', 'soon'], /^dispatchd status: --timeout-ms must be a whole number of milliseconds, got 'soon';/],
    [['session-open', 'a', 'b'], /^dispatchd session-open: unexpected argument 'b';/],
    [['help', 'pause', 'x'], /^dispatchd help: unexpected argument 'x';/],
    [['help', 'frob'], /^dispatchd: unknown command 'frob';/],
    [['serve', '--bogus'], /^dispatchd serve: unknown option --bogus; see dispatchd serve --help$/],
    [['serve', 'extra'], /^dispatchd serve: unexpected argument 'extra'/],
    [['serve', '--threads', '0'], /^dispatchd serve: --threads \/ DISPATCHD_THREADS: must be >= 1, got 0; see dispatchd serve --help$/],
    [['serve', '--pretty=yes'], /^dispatchd serve: option --pretty takes no value;/],
    [['bench', '--bogus'], /^dispatchd bench: Unknown option '--bogus'; see dispatchd bench --help$/],
    [['bench', 'frob'], /^dispatchd bench: unknown scenario 'frob' \(one of .*\); see dispatchd bench --help$/],
  ];
  test('each mistake is named on one line', async () => {
    const { dir, cleanup } = tmpHome();
    try {
      for (const [argv, want] of cases) {
        // --home points at an empty dir: had anything tried to connect, the exit would be 1.
        const client = COMMANDS[argv[0] as string]?.kind === 'client';
        const args = client ? [...argv, '--home', dir] : argv;
        const r = await cli(...args);
        assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
        assert.equal(r.out, '', argv.join(' '));
        assert.equal(lines(r.err).length, 1, `${argv.join(' ')}: ${r.err}`);
        assert.match(r.err.trimEnd(), want, argv.join(' '));
        assert.doesNotMatch(r.err, /positional argument|ERR_PARSE_ARGS|usage:/, argv.join(' '));
      }
    } finally {
      cleanup();
    }
  });
});

describe('errors at run time', () => {
  test('no daemon: the error line, then a hint how to start one (exit 1)', async () => {
    const { dir, cleanup } = tmpHome();
    try {
      const r = await cli('status', '--home', dir);
      assert.equal(r.code, 1);
      const [first, hint, ...more] = lines(r.err);
      assert.deepEqual(more, []);
      assert.equal((JSON.parse(first as string) as { code: number }).code, -32002);
      assert.match(hint as string, /^hint: no daemon is listening on .*daemon\.sock\. Start one with `dispatchd serve`/);
      assert.match(hint as string, /npm start/);
      assert.match(hint as string, /systemctl --user start dispatchd\.socket/);
    } finally {
      cleanup();
    }
  });

  test('--timeout-ms: a daemon that never answers is given up on (exit 1)', async (t) => {
    const { dir, cleanup } = tmpHome();
    const path = join(dir, 'mute.sock');
    const mute = createServer(() => {});
    await new Promise<void>((resolve) => mute.listen(path, resolve));
    t.after(() => {
      mute.close();
      cleanup();
    });
    const started = Date.now();
    const r = await cli('status', '--socket', path, '--timeout-ms', '200');
    assert.equal(r.code, 1);
    assert.ok(Date.now() - started < 4000);
    const [first, hint] = lines(r.err);
    // A daemon that was reached and did not answer in time is a timeout, not an absent daemon: no "start one" hint.
    const error = JSON.parse(first as string) as { code: number; data: unknown };
    assert.equal(error.code, ErrorCode.Timeout);
    assert.deepEqual(error.data, { client: 'timeout', timeout_ms: 200 });
    assert.doesNotMatch(hint as string, /dispatchd serve/);
  });

  test('--timeout-ms against a running daemon with a slow call: a timeout (-32005), no hint to start a daemon', async (t) => {
    const d = await startDaemon({ threads: 1 });
    t.after(() => d.close());
    const r = await cli('call', 'sleep', '{"ms":1500}', '--home', d.home, '--timeout-ms', '300');
    assert.equal(r.code, 1);
    const [first, hint] = lines(r.err);
    const error = JSON.parse(first as string) as { code: number; data: unknown };
    assert.equal(error.code, ErrorCode.Timeout);
    assert.deepEqual(error.data, { client: 'timeout', timeout_ms: 300 });
    assert.doesNotMatch(hint as string, /dispatchd serve/);
    // The daemon is still there and answers the next command.
    assert.equal((await cli('status', '--home', d.home, '--timeout-ms', '5000')).code, 0);
  });

  test('an error reply is one JSON line on stderr (exit 1)', async (t) => {
    const d = await startDaemon({ threads: 1 });
    t.after(() => d.close());
    const r = await cli('call', 'nope', '--home', d.home);
    assert.equal(r.code, 1);
    assert.equal(lines(r.err).length, 1);
    assert.equal((JSON.parse(r.err) as { code: number }).code, -32601);
  });

  test('call: JSON_PARAMS is sent as written and a 64-bit integer in the answer is printed exactly', async (t) => {
    const { dir, cleanup } = tmpHome();
    const path = join(dir, 'peer.sock');
    const sent: string[] = [];
    // A peer that answers as a daemon whose dispatch returns 64-bit row ids would.
    const peer = createServer((s) => {
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString();
        if (!buf.includes('\n')) return;
        sent.push(buf.trim());
        const result = '{"row":18446744073709551615,"ids":[-9223372036854775808,9007199254740993],"f":1.5}';
        s.end(sent.length === 1 ? `{"jsonrpc":"2.0","id":1,"result":${result}}\n` : `{"jsonrpc":"2.0","id":1,"error":{"code":-32050,"message":"m","data":{"row":18446744073709551617}}}\n`);
      });
    });
    await new Promise<void>((resolve) => peer.listen(path, resolve));
    t.after(() => {
      peer.close();
      cleanup();
    });
    const r = await cli('call', 'get', '{"id": 18446744073709551615,\n "x": [1.0, 1e2]}', '--socket', path);
    assert.equal(r.code, 0, r.err);
    assert.equal(sent[0], '{"jsonrpc":"2.0","id":1,"method":"get","params":{"id": 18446744073709551615,  "x": [1.0, 1e2]}}');
    assert.match(r.out, /"row": 18446744073709551615,/);
    assert.match(r.out, /-9223372036854775808,\s+9007199254740993\s/);
    assert.match(r.out, /"f": 1\.5/);
    const e = await cli('call', 'get', '--socket', path);
    assert.equal(e.code, 1);
    assert.equal(lines(e.err)[0], '{"code":-32050,"message":"m","data":{"row":18446744073709551617}}');
  });

  test('a held lock: serve exits 75 with one plain line, no JSON log or stack', async (t) => {
    const { dir, cleanup } = tmpHome();
    let stopFirst: () => void = () => {};
    const first = child(['serve', '--home', dir, '--dispatch', FIXTURE, '--threads', '1'], { onSpawn: (kill) => (stopFirst = kill) });
    t.after(async () => {
      stopFirst();
      await first;
      cleanup();
    });
    await waitForSocket(join(dir, 'daemon.sock'));
    const second = await child(['serve', '--home', dir, '--dispatch', FIXTURE, '--threads', '1']);
    assert.equal(second.code, 75);
    assert.equal(second.stdout, '');
    assert.equal(lines(second.stderr).length, 1, second.stderr);
    assert.match(second.stderr, /^dispatchd: another dispatchd is already running on this home \(pid \d+; lock .*daemon\.lock\)\n$/);
  });
});

describe('cold CLI: a command loads only what it needs', () => {
  // Anything of the daemon, the pool, the store, the logger or the bench.
  const DAEMON = /\/dist\/src\/(daemon|pool|server|connection|router|scheduler|state|metrics|logger|lock|control|framing|envelope|activation)\.js$|\/dist\/workers\/|\/dist\/bench\//;
  const PACKAGES = /\/node_modules\/(piscina|pino|pino-pretty|better-sqlite3|cli-progress|lossless-json|koffi|split2)\//;

  async function loads(args: string[], onSpawn?: (kill: () => void) => void): Promise<{ exited: Exited; urls: string[] }> {
    const dir = mkdtempSync('/tmp/ddl-');
    const file = join(dir, 'loads.txt');
    try {
      const exited = await child(args, { record: file, ...(onSpawn ? { onSpawn } : {}) });
      return { exited, urls: lines(readFileSync(file, 'utf8')).flatMap((l) => modulesOf(l.slice(4))) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('client commands, --help and --version load no daemon module and no heavy package', async (t) => {
    const d = await startDaemon({ threads: 1 });
    t.after(() => d.close());
    const runs: [string[], number][] = [
      [['--version'], 0],
      [['--help'], 0],
      [['status', '--home', d.home], 0],
      [['call', 'echo', '{"a":1}', '--home', d.home], 0],
      [['pause', '--help'], 0],
      [['resume', '--home', d.home], 0],
      [['status', '--threads', '3'], 2],
      [['status', '--home', join(d.home, 'nowhere')], 1],
    ];
    for (const [args, code] of runs) {
      const { exited, urls } = await loads(args);
      assert.equal(exited.code, code, `${args.join(' ')}: ${exited.stderr}`);
      // The recorder sees the CLI's own modules, so an empty list can't pass for a clean one.
      assert.ok(urls.some((u) => u.endsWith('/dist/src/main.js')), `${args.join(' ')}: recorder saw ${urls.length} modules`);
      const heavy = urls.filter((u) => DAEMON.test(u) || PACKAGES.test(u));
      assert.deepEqual(heavy, [], args.join(' '));
    }
  });

  test('serve loads the daemon but not the bench, and pino-pretty only with --pretty', async () => {
    for (const pretty of [false, true]) {
      const { dir, cleanup } = tmpHome();
      try {
        const args = ['serve', '--home', dir, '--dispatch', FIXTURE, '--threads', '1', ...(pretty ? ['--pretty'] : [])];
        const { exited, urls } = await loads(args, (kill) => void waitForSocket(join(dir, 'daemon.sock')).then(kill, kill));
        assert.equal(exited.code, 0, exited.stderr);
        assert.ok(urls.some((u) => u.endsWith('/dist/src/daemon.js')), 'daemon loaded');
        assert.ok(urls.some((u) => /\/node_modules\/piscina\//.test(u)), 'piscina loaded');
        assert.deepEqual(urls.filter((u) => /\/dist\/bench\/|\/node_modules\/cli-progress\//.test(u)), []);
        assert.equal(urls.some((u) => /\/node_modules\/pino-pretty\//.test(u)), pretty, `pretty ${pretty}`);
      } finally {
        cleanup();
      }
    }
  });
});
