/**
 * System tools some tests spawn (nc, python3, …). A fresh machine may lack
 * them; `npm ci && npm test` must still pass there, so a test that needs
 * one skips with a reason naming the tool. `.ci/run` installs them so CI
 * runs those tests for real.
 */
import { spawnSync } from 'node:child_process';

const found = new Map<string, boolean>();

/** True if `tool` is on PATH (`command -v`, what a shell would run). */
export function hasTool(tool: string): boolean {
  let has = found.get(tool);
  if (has === undefined) {
    has = spawnSync('sh', ['-c', 'command -v "$1" >/dev/null', 'sh', tool]).status === 0;
    found.set(tool, has);
  }
  return has;
}

/** For node:test's `skip` option: false when every tool is there, else the reason naming the missing ones. */
export function needs(...tools: string[]): string | false {
  const missing = tools.filter((t) => !hasTool(t));
  return missing.length === 0 ? false : `${missing.join(', ')} not installed (.ci/run installs ${missing.length === 1 ? 'it' : 'them'})`;
}
