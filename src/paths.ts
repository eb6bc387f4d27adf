/**
 * Where the package's own files are, found from this module. It owns every
 * path that crosses from `src/` to another part of the built package: the
 * worker bundle, the built-in store, the runtime, package.json, the bench.
 *
 * This file must stay at the top of `src/`: compiled to `dist/src/paths.js`
 * or bundled into `dist/cli/`, it is one level below `dist/` either way, so
 * the URLs below hold in both builds. Other modules import these names and
 * never build a `new URL('../…', import.meta.url)` of their own, so a module
 * can move between folders without its paths moving with it.
 */

/** The built output's root (`dist/`). */
const DIST = new URL('../', import.meta.url);

/** The worker entry, bundled as one CommonJS file (piscina's `filename`). */
export const WORKER_URL: URL = new URL('workers/thread.cjs', DIST);

/** The worker runtime, imported on the main thread by the inline runner. */
export const RUNTIME_URL: URL = new URL('workers/runtime.js', DIST);

/** The built-in SQLite store, a dispatch module like any other. */
export const BUILTIN_STORE_URL: URL = new URL('workers/store.js', DIST);

/** The bench's entry (`dispatchd bench`). */
export const BENCH_ENTRY_URL: URL = new URL('bench/run.js', DIST);

/** The package's package.json (for the version). */
export const PACKAGE_JSON_URL: URL = new URL('../package.json', DIST);
