/**
 * The summary as JUnit XML, the format CI systems show as test results: one
 * test case per scenario (an <error> when it failed to run) and one per
 * check (a <failure> when it did not hold).
 */
import type { Summary } from './summary.js';

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** JUnit XML for a summary. */
export function junitXml(s: Summary): string {
  const cases: string[] = [];
  let failures = 0;
  let errors = 0;
  for (const [name, sc] of Object.entries(s.scenarios)) {
    const body = sc.status === 'ok' ? '' : `\n      <error type="${sc.status}" message="${esc(sc.error ?? sc.status)}"/>\n    `;
    if (sc.status !== 'ok') errors++;
    cases.push(`    <testcase classname="bench.scenario" name="${esc(name)}" time="${sc.seconds.toFixed(3)}">${body}</testcase>`);
  }
  for (const c of s.checks) {
    const body = c.ok ? '' : `\n      <failure type="${c.kind}" message="${esc(c.message)}"/>\n    `;
    if (!c.ok) failures++;
    cases.push(`    <testcase classname="bench.${c.kind}" name="${esc(c.text)}" time="0">${body}</testcase>`);
  }
  const tests = cases.length;
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="dispatchd bench" tests="${tests}" failures="${failures}" errors="${errors}">
  <testsuite name="dispatchd bench" tests="${tests}" failures="${failures}" errors="${errors}" timestamp="${esc(s.startedAt)}" time="${s.seconds.toFixed(3)}">
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}
