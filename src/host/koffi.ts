/**
 * koffi, the FFI through which dispatchd calls the few libc functions Node
 * has no binding for: flock (the lock), malloc_trim (quiet release) and, on
 * macOS, launch_activate_socket. Its npm package ships prebuilt binaries,
 * so nothing is compiled at install. It is loaded on first use, never by
 * importing this module, and once for all callers.
 */
import { createRequire } from 'node:module';

/** A bound C function; koffi converts numbers, strings and out-parameter arrays. */
export type CFunction = (...args: unknown[]) => unknown;

/** The slice of koffi's API dispatchd uses. */
export interface Koffi {
  /** dlopen: `null` is the process itself, which links libc on every platform we run on. */
  load(path: string | null): { func(prototype: string): CFunction };
  errno(): number;
  decode(pointer: unknown, type: string, length: number): unknown;
}

let loaded: Koffi | undefined;

/** koffi, or a throw naming why it cannot load on this platform (no prebuilt binary). */
export function koffi(): Koffi {
  if (loaded !== undefined) return loaded;
  try {
    loaded = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err) {
    throw new Error(`koffi did not load on ${process.platform}-${process.arch} (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
  return loaded;
}

/** A function of libc (the process itself), bound through koffi. */
export function libc(prototype: string): CFunction {
  return koffi().load(null).func(prototype);
}
