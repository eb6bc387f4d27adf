/** dispatchd's version, from package.json (read once, on first import). */
import { readFileSync } from 'node:fs';

// Compiled to dist/src/version.js, two levels below the package root.
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;
