/**
 * How many client connections fit in the process's fd limit: the fds the
 * daemon keeps for itself and its threads are never a client's to take.
 * Reads /proc; touches no socket.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Fds the daemon keeps for itself (state writes, the lock, replaced workers, a refused client's moment). */
const FD_RESERVE = 64;
/**
 * And per worker thread started: the thread's own (about 4) and a store's
 * database, WAL and shm — for each thread running, plus the next one, so a
 * thread can always start. Threads start on demand and retire when idle,
 * so the limit is recomputed at each accept from the threads running then.
 */
const FDS_PER_THREAD = 7;

/** The soft RLIMIT_NOFILE and the fds open when it was read. */
export interface FdBudget {
  readonly limit: number;
  readonly open: number;
}

/** The fd limit and the fds open now, where the platform shows them (Linux /proc); null where it does not. */
export function fdBudget(): FdBudget | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m === null || m[1] === 'unlimited') return null;
    return { limit: Number(m[1]), open: readdirSync('/proc/self/fd').length };
  } catch {
    return null;
  }
}

/**
 * Connections taken at most now: the option, lowered so clients can never
 * take the fds the daemon needs — the reserve, and those of the threads
 * running now and of the next to start. It follows the threads: it falls
 * as they start and rises as they retire. A connection already accepted
 * is never closed when it falls; only newcomers are refused.
 */
export function connectionLimit(fds: FdBudget | null, maxConnections: number, threads: number): { max: number; reserve: number } {
  if (fds === null) return { max: maxConnections, reserve: 0 };
  const reserve = FD_RESERVE + FDS_PER_THREAD * (threads + 1);
  const room = fds.limit - fds.open - reserve;
  return { max: Math.max(1, Math.min(maxConnections, room)), reserve };
}
