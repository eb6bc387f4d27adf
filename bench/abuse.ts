/**
 * The abuse scenario (not in the default run): first the worst-case single
 * lines (`lines.ts`: ~1 MiB shapes, main-thread time and status probe wait
 * per line, 1000 distinct 1 MB method names); then a client that sends
 * continuously and never reads, against dispatchd as its own process, with
 * the daemon's RSS sampled every second; then 1000 connect/close cycles with
 * the daemon's open fds counted before and after.
 */
import { createConnection, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { rssMiB, startDispatchd } from './procs.js';
import type { Progress } from './types.js';
import type { Headline } from './types.js';
import { worstLines, type LinesResult } from './lines.js';

export interface AbuseResult {
  readonly seconds: number;
  readonly bytesSent: number;
  readonly disconnects: number;
  readonly rssStartMiB: number | null;
  readonly rssMaxMiB: number | null;
  readonly rssEndMiB: number | null;
  readonly fdsBefore: number | null;
  readonly fdsAfter: number | null;
  readonly cycles: number;
  readonly answersAfter: boolean;
  readonly worst: LinesResult;
}

/** Targets for one worst-case line: main-thread time and probe wait. */
const LINE_TARGET_MS = 50;

/** Headlines for the worst-case lines and the distinct-names run. */
export function worstHeadlines(w: LinesResult): Headline[] {
  const out: Headline[] = w.lines.map((l) => ({
    name: `abuse line: ${l.name} (${Math.round(l.lineBytes / 1024)} KiB → ${Math.round(l.answerBytes / 1024)} KiB answer${l.idsVerbatim === null ? '' : l.idsVerbatim ? ', ids verbatim' : ', IDS CHANGED'})`,
    value: `main thread ${l.busyMs ?? '?'} ms (worst ${l.busyWorstMs ?? '?'}), status probe max ${l.probeMaxMs} ms (worst ${l.probeWorstMs}), loop delay max ${l.loopDelayMaxMs ?? '?'} ms; medians of 5`,
    target: `≤ ${LINE_TARGET_MS} ms / ≤ ${LINE_TARGET_MS} ms`,
    met: l.busyMs !== null && l.busyMs <= LINE_TARGET_MS && l.probeMaxMs <= LINE_TARGET_MS && l.idsVerbatim !== false,
  }));
  for (const n of [w.names, w.accepted]) {
    const grew = n.rssBeforeMiB !== null && n.rssAfterMiB !== null ? n.rssAfterMiB - n.rssBeforeMiB : null;
    out.push({
      name: `abuse: ${n.calls} calls with distinct ${n.nameBytes >= 1e6 ? `${n.nameBytes / 1e6} MB` : `${n.nameBytes}-byte`} method names (${n.seconds} s)`,
      value: `RSS ${n.rssBeforeMiB} → ${n.rssAfterMiB} MiB, status ${n.statusBytes} bytes`,
      target: 'RSS within 50 MB, status < 64 KB',
      met: grew !== null && grew <= 50 && n.statusBytes < 64 * 1024,
    });
  }
  return out;
}

const fds = (pid: number): number | null => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
};

export async function abuse(o: { seconds: number; cycles: number }, progress: Progress): Promise<AbuseResult> {
  const worst = await worstLines(progress);
  const d = await startDispatchd();
  try {
    const rssStart = rssMiB(d.pid);
    let rssMax = rssStart ?? 0;
    let sent = 0;
    let disconnects = 0;
    let stop = false;
    const line = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: { pad: 'x'.repeat(4096) } })}\n`;
    const flood = (): void => {
      if (stop) return;
      const s: Socket = createConnection(d.socket);
      s.pause(); // never read
      s.on('error', () => {});
      s.on('close', () => {
        disconnects++;
        setTimeout(flood, 10);
      });
      const pump = (): void => {
        while (!stop && !s.destroyed) {
          sent += line.length;
          if (!s.write(line)) return void s.once('drain', pump);
        }
      };
      s.on('connect', pump);
    };
    flood();
    const t0 = Date.now();
    while (Date.now() - t0 < o.seconds * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      rssMax = Math.max(rssMax, rssMiB(d.pid) ?? 0);
      progress('abuse: never-reading client', (Date.now() - t0) / (o.seconds * 1000));
    }
    const rssEnd = rssMiB(d.pid);
    stop = true;
    disconnects--; // the flood's own final close is not the daemon's doing
    const fdsBefore = fds(d.pid);
    for (let i = 0; i < o.cycles; i++) {
      await new Promise<void>((resolve) => {
        const s = createConnection(d.socket);
        s.on('connect', () => s.destroy());
        s.on('close', () => resolve());
        s.on('error', () => {});
      });
      if (i % 100 === 0) progress('abuse: connect/close cycles', i / o.cycles);
    }
    await new Promise((r) => setTimeout(r, 300));
    const fdsAfter = fds(d.pid);
    const answersAfter = await new Promise<boolean>((resolve) => {
      const s = createConnection(d.socket);
      s.on('data', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
      s.write('{"type":"status"}\n');
    });
    return { seconds: o.seconds, bytesSent: sent, disconnects: Math.max(0, disconnects), rssStartMiB: rssStart, rssMaxMiB: rssMax, rssEndMiB: rssEnd, fdsBefore, fdsAfter, cycles: o.cycles, answersAfter, worst };
  } finally {
    await d.stop();
  }
}
