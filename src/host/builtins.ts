/**
 * Node built-ins the main thread needs only on some paths, loaded by
 * `require` when first used. An ESM `import … from 'node:http'` builds the
 * module's whole namespace, which on Node 22+ runs its lazy getters and
 * loads undici, tls, http2 and zlib: +10 MiB resident on Node 22, +16 MiB
 * on Node 26 (1 MiB on Node 20) for a daemon that serves no HTTP unless
 * `--metrics-listen` is set. `node:crypto` likewise costs ~5 MiB on Node 26
 * when imported; a `require` loads only what is used. docs/pool.md
 * ("Idle memory") has the measurements.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const http = (): typeof import('node:http') => require('node:http') as typeof import('node:http');
export const crypto = (): typeof import('node:crypto') => require('node:crypto') as typeof import('node:crypto');
