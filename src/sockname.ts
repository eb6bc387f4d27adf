/**
 * The path of a listening unix socket we were handed as an fd (socket
 * activation), so `status` can show what is really served. Node's pipe
 * handles have no getsockname(), so on Linux the fd's inode is looked up in
 * /proc/net/unix; elsewhere (or for an unnamed socket) the answer is `fd:N`.
 */
import { readFileSync, readlinkSync } from 'node:fs';

export function activatedSocketName(fd: number): string {
  try {
    const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
    if (inode !== undefined) {
      // Num RefCount Protocol Flags Type St Inode Path
      for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[6] === inode && cols[7] !== undefined && !cols[7].startsWith('@')) return cols[7];
      }
    }
  } catch {
    // not Linux, or /proc hidden (ProtectProc=): fall through
  }
  return `fd:${fd}`;
}
