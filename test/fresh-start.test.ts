/**
 * Cold is the common case: under socket activation each fresh home's first
 * connection carries a burst the daemon serves as it starts (the built-in
 * store created by the threads that race to open it). The full count is
 * `node dist/bench/fresh-starts.js --starts 50`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canActivate, freshStarts } from '../bench/fresh-starts.js';

const skip = canActivate() ? false : 'systemd-socket-activate is not installed (Debian: apt-get install systemd)';

test('5 fresh starts under socket activation, 40 calls on the first connection: every call answered with a result', { skip, timeout: 120_000 }, async () => {
  const r = await freshStarts(5, 40);
  assert.deepEqual({ failedStarts: r.failedStarts, errors: r.errors, lost: r.lost }, { failedStarts: 0, errors: {}, lost: 0 });
});
