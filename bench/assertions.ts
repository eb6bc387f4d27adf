/**
 * `--assert` expressions: `LEFT OP RIGHT`, OP one of < <= > >= == !=, each
 * side arithmetic (+ - * / and parentheses) over numbers and figure names
 * (figures.ts). A number may carry a unit: `ms`, `s` (× 1000: figures are
 * in ms), `x` or `%` (÷ 100). Names are checked before the run; a name the
 * run did not produce (its scenario failed) fails the check, never passes.
 */
import { BenchUsageError } from './failures.js';

type Expr = { readonly k: 'num'; readonly v: number } | { readonly k: 'name'; readonly name: string } | { readonly k: 'bin'; readonly op: '+' | '-' | '*' | '/'; readonly a: Expr; readonly b: Expr };

const OPS = ['<=', '>=', '==', '!=', '<', '>'] as const;
type Op = (typeof OPS)[number];

export interface Assertion {
  readonly text: string;
  readonly op: Op;
  readonly left: Expr;
  readonly right: Expr;
}

export interface Checked {
  readonly text: string;
  readonly ok: boolean;
  readonly left: number | null;
  readonly right: number | null;
  /** Why it failed, in words. */
  readonly message: string;
}

// A figure name: words joined by dots, each part optionally with a [selector] (which may hold spaces or dashes).
const NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]+\])?(?:\.[A-Za-z0-9_]+(?:\[[^\]]+\])?)*/;
const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(ms|s|x|%)?/;

/** Parses one expression; BenchUsageError says where it went wrong. */
export function parseAssertion(text: string): Assertion {
  let rest = text.trim();
  const fail = (why: string): never => {
    throw new BenchUsageError(`--assert '${text}': ${why}`);
  };
  const skip = (): void => {
    rest = rest.trimStart();
  };
  const expr = (): Expr => {
    let a = term();
    for (skip(); rest[0] === '+' || rest[0] === '-'; skip()) {
      const op = rest[0];
      rest = rest.slice(1);
      a = { k: 'bin', op, a, b: term() };
    }
    return a;
  };
  const term = (): Expr => {
    let a = factor();
    for (skip(); rest[0] === '*' || rest[0] === '/'; skip()) {
      const op = rest[0];
      rest = rest.slice(1);
      a = { k: 'bin', op, a, b: factor() };
    }
    return a;
  };
  const factor = (): Expr => {
    skip();
    if (rest[0] === '(') {
      rest = rest.slice(1);
      const e = expr();
      skip();
      if (rest[0] !== ')') fail(`expected ')' at '${rest}'`);
      rest = rest.slice(1);
      return e;
    }
    if (rest[0] === '-') {
      rest = rest.slice(1);
      return { k: 'bin', op: '-', a: { k: 'num', v: 0 }, b: factor() };
    }
    const n = NUMBER.exec(rest);
    if (n) {
      rest = rest.slice(n[0].length);
      const unit = n[1];
      const v = parseFloat(n[0]);
      return { k: 'num', v: unit === 's' ? v * 1000 : unit === '%' ? v / 100 : v };
    }
    const name = NAME.exec(rest);
    if (name) {
      rest = rest.slice(name[0].length);
      return { k: 'name', name: name[0] };
    }
    return fail(rest === '' ? 'incomplete expression' : `unexpected '${rest}'`);
  };
  const left = expr();
  skip();
  const op = OPS.find((o) => rest.startsWith(o));
  if (op === undefined) fail(`expected one of ${OPS.join(' ')} at '${rest}'`);
  rest = rest.slice((op as Op).length);
  const right = expr();
  skip();
  if (rest !== '') fail(`unexpected '${rest}'`);
  return { text: text.trim(), op: op as Op, left, right };
}

/** Every figure name an assertion reads. */
export function namesOf(a: Assertion): string[] {
  const out: string[] = [];
  const walk = (e: Expr): void => {
    if (e.k === 'name') out.push(e.name);
    else if (e.k === 'bin') {
      walk(e.a);
      walk(e.b);
    }
  };
  walk(a.left);
  walk(a.right);
  return out;
}

function value(e: Expr, figures: ReadonlyMap<string, number>, missing: string[]): number | null {
  if (e.k === 'num') return e.v;
  if (e.k === 'name') {
    const v = figures.get(e.name);
    if (v === undefined) missing.push(e.name);
    return v ?? null;
  }
  const a = value(e.a, figures, missing);
  const b = value(e.b, figures, missing);
  if (a === null || b === null) return null;
  return e.op === '+' ? a + b : e.op === '-' ? a - b : e.op === '*' ? a * b : a / b;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Evaluates against the run's figures. */
export function check(a: Assertion, figures: ReadonlyMap<string, number>): Checked {
  const missing: string[] = [];
  const left = value(a.left, figures, missing);
  const right = value(a.right, figures, missing);
  if (left === null || right === null) return { text: a.text, ok: false, left, right, message: `not measured in this run: ${missing.join(', ')} (its scenario failed or did not run)` };
  const ok = a.op === '<' ? left < right : a.op === '<=' ? left <= right : a.op === '>' ? left > right : a.op === '>=' ? left >= right : a.op === '==' ? left === right : left !== right;
  return { text: a.text, ok, left: round(left), right: round(right), message: ok ? 'held' : `${round(left)} ${a.op} ${round(right)} is false` };
}
