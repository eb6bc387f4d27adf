/**
 * The README and docs/protocol.md say what the code does: the error tables
 * match ErrorCode, the options table matches the config FIELDS row for row,
 * and every command of the README's round trip runs against a real daemon
 * and prints what the README shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { ErrorCode } from '../src/contract/errors.js';
import { FIELDS } from '../src/config.js';
import { BIN, join, waitForSocket } from './helper.js';
import { spawnDaemon, tempDir } from './daemons.js';
import { needs } from './tools.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const protocol = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

function errorTable(doc: string): Map<number, string> {
  return new Map([...doc.matchAll(/^\| (-32\d{3}) \| (\w+) \|/gm)].map((m) => [Number(m[1]), m[2] as string] as const));
}

for (const [name, doc] of [['README', readme], ['docs/protocol.md', protocol]] as const) {
  test(`${name} error table lists exactly the codes in ErrorCode, with their names`, () => {
    const documented = errorTable(doc);
    assert.equal(documented.size, Object.keys(ErrorCode).length);
    for (const [n, code] of Object.entries(ErrorCode)) assert.equal(documented.get(code), n, `${n} ${code}`);
  });
}

test('README options table has one row per config field, with its flag and env variable, and no other rows', () => {
  const rows = [...readme.matchAll(/^\| `(--[a-z-]+)(?: [A-Z]+)?` \| `(DISPATCHD_[A-Z_]+)` \|/gm)].map((m) => [m[1] as string, m[2] as string] as const);
  const fields = Object.values(FIELDS).map((f) => [f.flag, f.env] as const);
  assert.deepEqual(new Map(rows), new Map(fields));
  assert.equal(rows.length, fields.length, 'a field documented twice');
});

test('the README links the protocol reference and calls nothing outside the repository the contract', () => {
  assert.match(readme, /\(docs\/protocol\.md\)/);
  assert.doesNotMatch(readme, /SPEC\.md|seed\/socket_server\.py/);
  assert.doesNotMatch(protocol, /SPEC\.md|seed\//);
});

interface Step {
  readonly cmd: string;
  readonly expected: string;
  readonly stream: 'stdout' | 'stderr';
  readonly exit: number;
}

/** The `$ command` / output pairs of the README's "A round trip" block. */
function roundTripSteps(): Step[] {
  const section = readme.slice(readme.indexOf('## A round trip'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const steps: { cmd: string; out: string[] }[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('$ ')) steps.push({ cmd: line.slice(2), out: [] });
    else if (line.trim() !== '') steps.at(-1)?.out.push(line);
  }
  return steps.map(({ cmd, out }) => {
    let expected = out.join('\n');
    let stream: Step['stream'] = 'stdout';
    let exit = 0;
    const note = /\s+# on stderr, exit status (\d+)$/.exec(expected);
    if (note) {
      expected = expected.slice(0, note.index);
      stream = 'stderr';
      exit = Number(note[1]);
    }
    return { cmd, expected, stream, exit };
  });
}

/** `…`, `...` and `{...}` stand for anything; whitespace is not significant. */
function matches(expected: string, actual: string): boolean {
  const squeeze = (s: string): string => s.replace(/\s+/g, '');
  const pattern = squeeze(expected)
    .split(/…|\.\.\./)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*?');
  return new RegExp(`^${pattern}$`).test(squeeze(actual));
}

function sh(cmd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', cmd], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const steps = roundTripSteps();
/** Programs the round trip runs besides the CLI (the README pipes into `nc`). */
const roundTripTools = ['nc'].filter((tool) => steps.some((s) => new RegExp(`(^|[|;&]\\s*)${tool}\\s`).test(s.cmd)));

test('every command of the README round trip runs against a daemon and prints what the README shows', { skip: needs(...roundTripTools) }, async (t) => {
  assert.ok(steps.length >= 6, `found ${steps.length} steps`);
  const dir = tempDir(t);
  const daemon = spawnDaemon(t, ['serve', '--threads', '2'], { DISPATCHD_HOME: dir });
  await waitForSocket(join(dir, 'daemon.sock')).catch((err: Error) => {
    const state = daemon.proc.exitCode === null ? 'still running' : `exited ${daemon.proc.exitCode}`;
    throw new Error(`${err.message}; the daemon is ${state}; its stderr:\n${daemon.stderr}`);
  });
  for (const step of steps) {
    const cmd = step.cmd.replaceAll('npx dispatchd', `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)}`).replaceAll('~/.dispatchd', dir);
    const r = await sh(cmd, { DISPATCHD_HOME: dir });
    const what = `$ ${step.cmd}\nexit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
    assert.equal(r.code, step.exit, what);
    assert.ok(matches(step.expected, r[step.stream]), `README shows:\n${step.expected}\n${what}`);
  }
});

test("docs/protocol.md's error.data table lists every failure the daemon and its threads send", () => {
  // Every `failure: '…'` the sources write, read from the sources themselves.
  const root = new URL('../../', import.meta.url);
  const sources = (dir: string): string[] =>
    readdirSync(new URL(dir, root), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(new URL(`${dir}${f}`, root), 'utf8'));
  const sent = new Set([...sources('src/'), ...sources('workers/')].flatMap((text) => [...text.matchAll(/failure: '([a-z_]+)'/g)].map((m) => m[1] as string)));
  assert.ok(sent.size >= 8, `found ${[...sent].join(', ')}`);
  for (const failure of sent) assert.ok(protocol.includes(`{"failure":"${failure}"`), `docs/protocol.md does not document failure ${failure}`);
});
