/**
 * The maintenance scenario (not in the default run): foreground echo latency
 * while background maintenance cycles (50 ms of CPU each, forced back to
 * back with force_rem) run, versus with no cycles.
 */
import { Histogram, LoadConn, type Percentiles } from './load.js';
import { startDispatchd } from './procs.js';
import type { Progress } from './types.js';

export interface MaintenanceResult {
  readonly idle: Percentiles;
  readonly duringCycles: Percentiles;
  readonly cycles: number;
}

async function probe(c: LoadConn, ms: number, label: string, progress: Progress): Promise<Percentiles> {
  const h = new Histogram();
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    h.record((await c.call('echo', { probe: true })).ms);
    progress(label, (performance.now() - t0) / ms);
    await new Promise((r) => setTimeout(r, 10));
  }
  return h.summary();
}

export async function maintenance(o: { ms: number }, progress: Progress): Promise<MaintenanceResult> {
  const d = await startDispatchd(['--tick-ms', '20', '--idle-ms', '3600000']);
  try {
    const c = await LoadConn.open(d.socket);
    const control = await LoadConn.open(d.socket);
    const idle = await probe(c, o.ms, 'maintenance: echo, no cycles', progress);
    const before = ((await control.control({ type: 'status' })).msg.scheduler as { cycles: number }).cycles;
    let forcing = true;
    const forcer = (async () => {
      while (forcing) {
        await control.control({ type: 'force_rem', ts: new Date().toISOString() });
        await new Promise((r) => setTimeout(r, 30));
      }
    })().catch(() => {}); // a closed control connection ends the forcing; the probe then fails the scenario
    const during = await probe(c, o.ms, 'maintenance: echo during cycles', progress);
    forcing = false;
    await forcer;
    const after = ((await control.control({ type: 'status' })).msg.scheduler as { cycles: number }).cycles;
    c.close();
    control.close();
    return { idle, duringCycles: during, cycles: after - before };
  } finally {
    await d.stop();
  }
}
