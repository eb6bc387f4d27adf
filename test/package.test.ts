/**
 * The package as a user gets it: `npm pack` (which builds through prepack),
 * then an install of the tarball into an empty project, the daemon started
 * from the installed package, a call through its CLI, and a dispatch module
 * importing `dispatchd` type-checked and served.
 *
 * What this proves and what it does not: the install is `npm ci` from the
 * registry into a private, empty npm cache (a fresh machine has no warm
 * cache, and the user's must not decide the result), with dependency
 * versions pinned to this repository's lockfile (the ones `npm ci` just
 * installed here), so it proves the tarball's files, its declared
 * dependencies, bin and exports. Install scripts are skipped: on Node 22+
 * the built-in store runs on node:sqlite and needs nothing native at all;
 * on Node 20 the optional better-sqlite3 addon is copied from this
 * checkout's build, same Node ABI (compiling SQLite takes minutes, and the
 * repository's own `npm ci` already proves that it compiles). koffi needs no script: its prebuilt
 * binary is an optional dependency of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForSocket } from './helper.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NATIVE = ['better-sqlite3'];
const hasNodeSqlite = (() => {
  try {
    return typeof (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:sqlite') === 'object';
  } catch {
    return false;
  }
})();

interface Lock {
  packages: Record<string, { dev?: boolean; version?: string } & Record<string, unknown>>;
}

/** npm with its cache in `cache`: nothing read from, or left in, the user's own. */
function npm(args: string[], cwd: string, cache: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000, env: { ...process.env, npm_config_cache: cache } });
}

/** The README's module example: the first ts block under "Writing a dispatch module". */
function readmeModule(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Writing a dispatch module'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'README has a ts module example');
  return m[1] as string;
}

/** Type checks that must hold (and, through @ts-expect-error, must fail) for module authors. */
const TYPES_CHECK = `import { dispatch } from './text-tools.js';
import { Client, ErrorCode, MethodNotFoundError, type DispatchFn, type DispatchModule, type Lane } from 'dispatchd';
import { Daemon, resolveConfig } from 'dispatchd/daemon';

const minimal: DispatchModule = { dispatch };
const full: DispatchModule = { dispatch, lanes: { word_count: 'fast' }, maintain: () => null };
const lane: Lane = 'slow';
const fn: DispatchFn = (method) => {
  throw new MethodNotFoundError(method);
};
// @ts-expect-error a lane is 'fast' or 'slow'
const badLane: DispatchModule = { dispatch, lanes: { x: 'medium' } };
// @ts-expect-error dispatch is required
const noDispatch: DispatchModule = { lanes: {} };
export const used = [minimal, full, lane, fn, badLane, noDispatch, ErrorCode.MethodNotFound, Client, Daemon, resolveConfig];
`;

test('npm pack → install from the registry with an empty cache → serve → call; a module importing dispatchd type-checks and runs', { timeout: 300_000 }, async (t) => {
  const work = mkdtempSync('/tmp/ddpkg-');
  const cache = join(work, 'npm-cache');
  const procs: ReturnType<typeof spawn>[] = [];
  t.after(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  // 1. Pack (prepack builds) and check what the tarball carries.
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work], ROOT, cache)) as { filename: string; files: { path: string }[] }[];
  const { filename, files } = packed[0] as { filename: string; files: { path: string }[] };
  const paths = files.map((f) => f.path);
  for (const p of ['bin/dispatchd.js', 'dist/src/main.js', 'dist/cli/main.js', 'dist/workers/thread.cjs', 'dist/bench/piscina-server.js', 'dist/bench/piscina-worker.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/embed.js', 'dist/workers/worker.js', 'dist/workers/store.js', 'dist/bench/run.js', 'examples/text-tools.ts', 'package.json', 'README.md']) {
    assert.ok(paths.includes(p), `tarball has ${p}`);
  }
  // The CLI's chunks carry content hashes in their names: the serve and daemon chunks must be there.
  for (const chunk of [/^dist\/cli\/serve-\w+\.js$/, /^dist\/cli\/daemon-\w+\.js$/]) assert.ok(paths.some((p) => chunk.test(p)), `tarball has ${String(chunk)}`);
  assert.deepEqual(paths.filter((p) => p.startsWith('dist/test/') || p.endsWith('.map') || p.includes('tsbuildinfo') || p.startsWith('src/') || p.startsWith('bench/results')), []);

  // 2. An empty project that depends on the tarball, locked to this repository's versions; npm ci with the empty cache.
  const app = join(work, 'app');
  mkdirSync(app);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    optionalDependencies: Record<string, string>;
    bin: Record<string, string>;
    engines: Record<string, string>;
  };
  const tarball = join(work, filename);
  const spec = `file:../${filename}`;
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const packages: Lock['packages'] = {
    '': { name: 'app', dependencies: { dispatchd: spec } },
    'node_modules/dispatchd': {
      version: pkg.version,
      resolved: spec,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      dependencies: pkg.dependencies,
      optionalDependencies: pkg.optionalDependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && entry.dev !== true) packages[path] = entry;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { dispatchd: spec } }));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }));
  npm(['ci', '--ignore-scripts', '--no-audit', '--no-fund'], app, cache);
  // Node 22+ serves the store with node:sqlite: nothing native is needed there (better-sqlite3 is optional, for Node 20).
  for (const name of hasNodeSqlite ? [] : NATIVE) {
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    const here = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    assert.equal(installed.version, here.version, name);
    const from = join(ROOT, 'node_modules', name, 'build', 'Release');
    const to = join(app, 'node_modules', name, 'build', 'Release');
    mkdirSync(to, { recursive: true });
    for (const f of readdirSync(from).filter((f) => f.endsWith('.node'))) copyFileSync(join(from, f), join(to, f));
  }

  // 3. Type-check the example, the README's module and the author-facing types against the installed package; emit JS.
  copyFileSync(join(ROOT, 'examples', 'text-tools.ts'), join(app, 'text-tools.ts'));
  writeFileSync(join(app, 'readme-module.ts'), readmeModule());
  writeFileSync(join(app, 'types-check.ts'), TYPES_CHECK);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUncheckedIndexedAccess: true, outDir: 'out', typeRoots: [join(ROOT, 'node_modules', '@types')], types: ['node'], skipLibCheck: false },
      files: ['text-tools.ts', 'readme-module.ts', 'types-check.ts'],
    }),
  );
  const tsc = spawnSync(process.execPath, [TSC, '-p', join(app, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(tsc.status, 0, `tsc:\n${tsc.stdout}${tsc.stderr}`);

  // 4. The installed CLI (`npx dispatchd`): serve the built-in store and the example module, call both.
  const npx = spawnSync('npx', ['--offline', '--no-install', 'dispatchd', '--version'], { cwd: app, encoding: 'utf8', timeout: 60_000, env: { ...process.env, npm_config_cache: cache } });
  assert.equal(npx.stdout, `${pkg.version}\n`, npx.stderr);
  // The bin npx ran, without npm's own warnings on stderr.
  const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(process.execPath, [join(app, 'node_modules', '.bin', 'dispatchd'), ...args], { cwd: app, encoding: 'utf8', timeout: 60_000 });
  const serve = async (home: string, extra: string[]): Promise<void> => {
    const p = spawn(process.execPath, [join(app, 'node_modules', '.bin', 'dispatchd'), 'serve', '--home', home, '--threads', '1', '--log-level', 'warn', ...extra], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] });
    procs.push(p);
    await waitForSocket(join(home, 'daemon.sock'), 30_000);
  };
  const store = join(work, 'h1');
  await serve(store, []);
  const captured = cli(['call', 'memory_capture', '{"text":"the deploy key lives in the vault"}', '--home', store]);
  assert.equal(captured.status, 0, captured.stderr);
  assert.equal((JSON.parse(captured.stdout) as { id: number }).id, 1);

  const mod = join(work, 'h2');
  await serve(mod, ['--dispatch', join(app, 'out', 'text-tools.js')]);
  const counted = cli(['call', 'word_count', '{"text":"to be or not to be"}', '--home', mod]);
  assert.equal(counted.status, 0, counted.stderr);
  assert.deepEqual((JSON.parse(counted.stdout) as { words: number; distinct: number }).distinct, 4);
  const primes = cli(['call', 'primes_below', '{"n":100}', '--home', mod]);
  assert.deepEqual(JSON.parse(primes.stdout), { n: 100, count: 25, cached: false });
  // The module's MethodNotFoundError came from the installed 'dispatchd' and still maps to -32601.
  const missing = cli(['call', 'nope', '--home', mod]);
  assert.equal(missing.status, 1);
  assert.equal((JSON.parse(missing.stderr) as { code: number }).code, -32601);
  const bad = cli(['call', 'slugify', '{}', '--home', mod]);
  assert.deepEqual(JSON.parse(bad.stderr), { code: -32602, message: "missing required param: 'text'" });

  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null)));
  assert.deepEqual(
    procs.map((p) => p.exitCode),
    procs.map(() => 0),
  );
});
