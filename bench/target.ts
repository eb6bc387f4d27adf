/**
 * What the bench measures: its own fixture daemon, or a user's server —
 * `--socket PATH` (already running), `--dispatch 'MODULE [serve flags]'`
 * (dispatchd started on the user's module) or `--cmd 'COMMAND'` (a server
 * the harness starts, waits for, times and stops). Options are read in the
 * order given: the first target is the one under test, a second is its
 * baseline, measured in the same run.
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BenchUsageError } from './failures.js';
import { LoadConn } from './load.js';
import { startCommand, startDispatchd, type Proc } from './procs.js';
import { within } from './timers.js';

export type TargetSpec =
  | { readonly kind: 'socket'; readonly name: string; readonly path: string }
  | { readonly kind: 'dispatch'; readonly name: string; readonly module: string; readonly serveArgs: readonly string[] }
  | { readonly kind: 'cmd'; readonly name: string; readonly command: string };

/** A started (or reached) target. */
export interface Running extends Proc {
  readonly name: string;
  /** Spawn → accepting connections, ms (0 for `--socket`). */
  readonly startMs: number;
}

/** The options that name a target, as node's parseArgs tokens give them, in command-line order. */
export function targetsFrom(tokens: readonly { kind: string; name?: string; value?: string | undefined }[], cwd: string): TargetSpec[] {
  const out: TargetSpec[] = [];
  for (const t of tokens) {
    if (t.kind !== 'option' || t.value === undefined) continue;
    if (t.name === 'socket') out.push({ kind: 'socket', name: basename(t.value), path: resolve(cwd, t.value) });
    else if (t.name === 'dispatch') {
      const [module, ...serveArgs] = t.value.trim().split(/\s+/);
      const path = resolve(cwd, module as string);
      if (!existsSync(path)) throw new BenchUsageError(`--dispatch: no such module ${path}`);
      out.push({ kind: 'dispatch', name: [basename(path).replace(/\.[cm]?js$/, ''), ...serveArgs].join(' '), module: path, serveArgs });
    } else if (t.name === 'cmd') out.push({ kind: 'cmd', name: t.value.length > 40 ? `${t.value.slice(0, 37)}...` : t.value, command: t.value });
  }
  if (out.length > 2) throw new BenchUsageError(`at most two targets (one under test, one baseline); got ${out.length}`);
  // Two targets with one name would overwrite each other's figures.
  if (out.length === 2 && out[0]?.name === out[1]?.name) return [out[0] as TargetSpec, { ...(out[1] as TargetSpec), name: `${out[1]?.name} (2)` }];
  return out;
}

/** Starts `t` (or checks that its socket answers); a target that is not there is a TargetError. */
export async function startTarget(t: TargetSpec): Promise<Running> {
  const t0 = performance.now();
  const since = (): number => Math.round((performance.now() - t0) * 10) / 10;
  switch (t.kind) {
    case 'socket': {
      const c = await LoadConn.open(t.path); // TargetError when nothing listens
      c.close();
      return { name: t.name, socket: t.path, pid: 0, startMs: 0, stop: async () => {} };
    }
    case 'dispatch': {
      const p = await startDispatchd([...t.serveArgs], t.module);
      return { ...p, name: t.name, startMs: since() };
    }
    case 'cmd': {
      const p = await startCommand(t.command);
      return { ...p, name: t.name };
    }
  }
}

/** Whether the server answers dispatchd's `{"type":"status"}` control message (so the probes can time it). */
export async function answersStatus(socket: string): Promise<boolean> {
  const c = await LoadConn.open(socket);
  try {
    let ok = false;
    await within(
      c.control({ type: 'status' }).then((r) => {
        ok = r.msg.ok === true;
      }),
      1000,
    );
    return ok;
  } catch {
    return false;
  } finally {
    c.close();
  }
}
