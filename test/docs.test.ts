/** The README's error table and option table match the code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCode } from '../src/errors.js';
import { FIELDS } from '../src/config.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('README error table lists exactly the codes in ErrorCode, with their names', () => {
  const rows = [...readme.matchAll(/^\| (-32\d{3}) \| (\w+) \|/gm)].map((m) => [Number(m[1]), m[2]] as const);
  const documented = new Map(rows);
  assert.equal(documented.size, Object.keys(ErrorCode).length);
  for (const [name, code] of Object.entries(ErrorCode)) assert.equal(documented.get(code), name, `${name} ${code}`);
});

test('README options table names every flag and env variable', () => {
  for (const f of Object.values(FIELDS)) {
    assert.ok(readme.includes(`\`${f.flag}`), f.flag);
    assert.ok(readme.includes(`\`${f.env}\``), f.env);
  }
});
