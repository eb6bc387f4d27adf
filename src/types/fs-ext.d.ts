// The part of fs-ext dispatchd uses (the package ships no types).
declare module 'fs-ext' {
  export function flockSync(fd: number, flags: 'sh' | 'ex' | 'shnb' | 'exnb' | 'un'): void;
  const fsExt: { flockSync: typeof flockSync };
  export default fsExt;
}
