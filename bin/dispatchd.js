#!/usr/bin/env node
// Thin launcher: runs the compiled CLI in this very process (no fork), so
// supervisors' signals reach the daemon directly.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('dispatchd: not built yet; run `npm run build` (or `npm start`) first\n');
  process.exit(2);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
