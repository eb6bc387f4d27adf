/**
 * What the main thread loads decides much of the daemon's idle memory: an
 * ESM import of node:http builds its whole namespace, which on Node 22+
 * loads undici, tls and http2 (+10 to +16 MiB resident, src/host/builtins.ts).
 * A daemon that serves no HTTP must not load them; with --metrics-listen it
 * does (the probe can see the difference).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { FIXTURES, join, killChild, roundTrip, spawnCli, tmpHome, waitForSocket, type Child } from './helper.js';

const PROBE = pathToFileURL(join(FIXTURES, 'builtins-probe.js')).href;

/** Serves on a fresh home with the probe, makes one store call, stops; the main thread's built-ins. */
async function mainBuiltins(t: { after: (fn: () => Promise<void> | void) => void }, extra: string[]): Promise<string[]> {
  const home = tmpHome();
  t.after(home.cleanup);
  const socket = join(home.dir, 'daemon.sock');
  const child: Child = spawnCli(['serve', '--home', home.dir, '--log-level', 'warn', ...extra], { NODE_OPTIONS: `--import ${PROBE}` });
  t.after(() => killChild(child));
  await waitForSocket(socket);
  const r = await roundTrip(socket, { jsonrpc: '2.0', id: 1, method: 'memory_capture', params: { text: 'idle memory probe' } });
  assert.ok(r.result !== undefined, JSON.stringify(r));
  child.proc.kill('SIGTERM');
  assert.equal(await child.exited, 0, child.stderr);
  const main = child.stderr
    .split('\n')
    .filter((l) => l.startsWith('BUILTINS '))
    .map((l) => JSON.parse(l.slice('BUILTINS '.length)) as { main: boolean; builtins: string[] })
    .find((x) => x.main);
  assert.ok(main !== undefined, `no report from the main thread: ${child.stderr}`);
  return main.builtins;
}

test('a daemon without --metrics-listen loads no HTTP stack on its main thread', async (t) => {
  const loaded = await mainBuiltins(t, []);
  for (const m of ['http', 'tls', 'http2', 'internal/deps/undici/undici']) assert.ok(!loaded.includes(m), `main thread loaded ${m}`);
});

test('with --metrics-listen the main thread loads node:http (the probe sees it)', async (t) => {
  const home = tmpHome();
  t.after(home.cleanup);
  const loaded = await mainBuiltins(t, ['--metrics-listen', join(home.dir, 'metrics.sock')]);
  assert.ok(loaded.includes('http'), 'node:http not loaded with --metrics-listen');
});
