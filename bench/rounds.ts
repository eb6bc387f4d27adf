/**
 * Comparing servers on a shared machine: measure them in alternating rounds
 * (the order rotating each round), so that a change in the machine's load
 * weighs on each alike instead of on whichever ran last.
 */
import type { Proc } from './procs.js';
import { startDispatchd } from './procs.js';
import { havePython, startBaseline } from './baseline.js';

/** Rounds each measurement is split into, alternating between the targets compared. */
export const ROUNDS = 3;

/** Fresh-server runs per server for a cold row (the median is reported). */
const COLD_ROUNDS = 3;

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** The servers a cold row compares: dispatchd with the bench fixture, and the asyncio baseline when python3 is there. */
export function coldServers(): [string, () => Promise<Proc>][] {
  const servers: [string, () => Promise<Proc>][] = [['dispatchd', () => startDispatchd()]];
  if (havePython()) servers.push(['asyncio-to_thread', () => startBaseline()]);
  return servers;
}

/** Runs `run` on a fresh start of each server, `COLD_ROUNDS` times in alternating order; the results by server name. */
export async function alternateFresh<T>(servers: readonly (readonly [string, () => Promise<Proc>])[], run: (start: () => Promise<Proc>) => Promise<T>, progress: (name: string, frac: number) => void): Promise<Map<string, T[]>> {
  const out = new Map<string, T[]>(servers.map(([name]) => [name, []]));
  for (let round = 0; round < COLD_ROUNDS; round++) {
    for (let k = 0; k < servers.length; k++) {
      const [name, start] = servers[(k + round) % servers.length] as readonly [string, () => Promise<Proc>];
      progress(name, (round * servers.length + k) / (COLD_ROUNDS * servers.length));
      (out.get(name) as T[]).push(await run(start));
    }
  }
  return out;
}
