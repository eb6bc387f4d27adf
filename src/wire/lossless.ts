/**
 * A small JSON parser for the client library that loses no integer: an
 * integer outside Number's safe range (±(2^53 − 1)) becomes a `bigint`;
 * every other number is a `number`, as `JSON.parse` gives it. Otherwise it
 * reads what `JSON.parse` reads and builds the same values: the last of
 * duplicate keys wins, and every key — `__proto__` included — is an own
 * property. Text with no integer long enough to be unsafe goes to
 * `JSON.parse`; the rest is scanned in one pass, linear in the text, with
 * no recursion (any depth).
 */

type Container = { readonly kind: 'array'; readonly value: unknown[] } | { readonly kind: 'object'; readonly value: Record<string, unknown>; key: string };

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
/**
 * Every integer of at most 15 digits is safe: without a run of 16 digits
 * that starts an integer part (not after `.`), JSON.parse loses nothing.
 */
const LONG_INTEGER = /(?<![.\d])\d{16}/;

/** Sets `key` as an own data property, even `__proto__`. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

/** Parses one JSON text; throws a SyntaxError naming the position on bad input. */
export function parseJson(text: string): unknown {
  // The common reply: JSON.parse builds the same values (own `__proto__` keys included), faster.
  if (!LONG_INTEGER.test(text)) return JSON.parse(text);
  const n = text.length;
  const stack: Container[] = [];
  let i = 0;
  let result: unknown;
  let expect: 'value' | 'key' | 'next' = 'value';
  // Right after `[` or `{`, where the closing bracket may come at once.
  let opened = false;

  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${i} of the reply`);
  };
  const skipSpace = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      i++;
    }
  };
  const readString = (): string => {
    const start = i++;
    let escapes = false;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        // Escapes are rare in replies; JSON.parse decodes (and checks) them, linear in the slice.
        return escapes ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1);
      }
      if (c === 0x5c) {
        escapes = true;
        i += 2;
      } else {
        if (c < 0x20) fail('control character in a string');
        i++;
      }
    }
    return fail('unterminated string');
  };
  const readScalar = (): unknown => {
    const c = text[i];
    if (c === '"') return readString();
    for (const [word, value] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) return fail('unexpected character');
    i = NUMBER.lastIndex;
    const num = Number(m[0]);
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(num)) return BigInt(m[0]);
    return num;
  };
  const put = (value: unknown): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) result = value;
    else if (top.kind === 'array') top.value.push(value);
    else setOwn(top.value, top.key, value);
  };
  const close = (): void => {
    i++;
    put((stack.pop() as Container).value);
  };

  for (;;) {
    skipSpace();
    const top = stack[stack.length - 1];
    if (expect === 'next') {
      if (top === undefined) {
        if (i !== n) fail('unexpected text after the value');
        return result;
      }
      const c = text[i];
      if (c === ',') {
        i++;
        expect = top.kind === 'array' ? 'value' : 'key';
      } else if (c === (top.kind === 'array' ? ']' : '}')) {
        close();
        expect = 'next';
      } else {
        fail("expected ',' or a closing bracket");
      }
      continue;
    }
    const wasOpened = opened;
    opened = false;
    if (i >= n) fail('unexpected end');
    const c = text[i];
    if (expect === 'key') {
      if (wasOpened && c === '}') {
        close();
        expect = 'next';
        continue;
      }
      if (c !== '"') fail('expected a key');
      const key = readString();
      skipSpace();
      if (text[i] !== ':') fail("expected ':'");
      i++;
      (top as Extract<Container, { kind: 'object' }>).key = key;
      expect = 'value';
      continue;
    }
    if (wasOpened && c === ']') {
      close();
      expect = 'next';
    } else if (c === '{') {
      i++;
      stack.push({ kind: 'object', value: {}, key: '' });
      expect = 'key';
      opened = true;
    } else if (c === '[') {
      i++;
      stack.push({ kind: 'array', value: [] });
      expect = 'value';
      opened = true;
    } else {
      put(readScalar());
      expect = 'next';
    }
  }
}

/** JSON.stringify's escaping of a marker string, usable in a RegExp. */
const regexpQuote = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/**
 * JSON text for a value `parseJson` built, indented like `JSON.stringify`:
 * a `bigint` is written as its digits, so what was read losslessly is
 * printed the same way (`JSON.stringify` throws on a bigint).
 */
export function stringifyJson(value: unknown, indent?: number): string {
  let marker: string | null = null;
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v !== 'bigint') return v;
      // A string no value can hold by chance: NUL, then a random tag; swapped for the digits below.
      marker ??= `\u0000bigint-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}:`;
      return `${marker}${v.toString()}`;
    },
    indent,
  );
  if (marker === null) return text;
  const quoted = (JSON.stringify(marker) as string).slice(0, -1);
  return text.replace(new RegExp(`${regexpQuote(quoted)}(-?\\d+)"`, 'g'), '$1');
}
