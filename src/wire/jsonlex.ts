/**
 * JSON tokens as positions in a string (RFC 8259, exactly what `JSON.parse`
 * accepts): where a string, number or literal that starts at `i` ends, or
 * negative if it is not valid — and, only then, a short message saying why.
 * Pure functions on (text, index): the scanner's hot loops call them
 * millions of times per megabyte, so nothing here allocates on the success
 * path. The text they scan ends in `PAD`, so no read runs past its end.
 */

/**
 * Appended to a line before scanning. NUL ends every token (it is neither
 * whitespace nor allowed raw in a string), and 8 of them cover the longest
 * look-ahead (`\uXXXX`), so no read is ever out of bounds: one such read
 * (a line that ends early) would make V8 re-optimise the scan loops into a
 * slower, bounds-tolerant form for the life of the process.
 */
export const PAD = '\u0000'.repeat(8);

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

export function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexValue(c: number): number {
  return c <= NINE ? c - ZERO : (c | 0x20) - 0x61 + 10;
}

/** The first index at or after `i` that is not JSON whitespace. */
export function skipWs(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

// " \ / b f n r t
function isSimpleEscape(e: number): boolean {
  return e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74;
}

function isUnicodeEscape(s: string, i: number): boolean {
  return s.charCodeAt(i + 1) === 0x75 && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5));
}

/** Past the closing quote of the string whose opening quote is at `i`; -1 if it is not valid. */
export function stringEnd(s: string, i: number): number {
  const n = s.length;
  for (i++; i < n; ) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      if (isSimpleEscape(s.charCodeAt(i + 1))) i += 2;
      else if (isUnicodeEscape(s, i)) i += 6;
      else return -1;
    } else if (c < 0x20) {
      return -1;
    } else {
      i++;
    }
  }
  return -1;
}

/** Past the number that starts at `i`; negative if it is not valid (-1 - the position at fault). */
export function numberEnd(s: string, i: number): number {
  if (s.charCodeAt(i) === MINUS) i++;
  const first = s.charCodeAt(i);
  if (first === ZERO) i++;
  else if (isDigit(first)) while (isDigit(s.charCodeAt(++i)));
  else return -1 - i;
  if (s.charCodeAt(i) === DOT) {
    if (!isDigit(s.charCodeAt(++i))) return -1 - i;
    while (isDigit(s.charCodeAt(++i)));
  }
  const e = s.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    const sign = s.charCodeAt(++i);
    if (sign === PLUS || sign === MINUS) i++;
    if (!isDigit(s.charCodeAt(i))) return -1 - i;
    while (isDigit(s.charCodeAt(++i)));
  }
  return i;
}

/** Past `true`, `false` or `null` starting at `i` (whose first character is `c`); -1 if none. */
export function literalEnd(s: string, i: number, c: number): number {
  const word = c === 0x74 ? 'true' : c === 0x66 ? 'false' : c === 0x6e ? 'null' : null;
  return word !== null && s.startsWith(word, i) ? i + word.length : -1;
}

/** Whether `start..end` holds a backslash. */
export function hasBackslash(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (s.charCodeAt(i) === BACKSLASH) return true;
  return false;
}

/**
 * The value of the valid string `start..end` (quotes included) if it could
 * be a name of at most `maxLength` characters starting with one of `firsts`, else
 * null. By hand: JSON.parse per member name costs a microsecond, and a line
 * can hold 100k names.
 */
export function decodeShortName(s: string, start: number, end: number, firsts: string, maxLength: number): string | null {
  let out = '';
  for (let i = start + 1; i < end - 1; ) {
    if (out.length === maxLength) return null;
    let c = s.charCodeAt(i);
    if (c !== BACKSLASH) {
      i++;
    } else if (s.charCodeAt(i + 1) === 0x75) {
      c = (hexValue(s.charCodeAt(i + 2)) << 12) | (hexValue(s.charCodeAt(i + 3)) << 8) | (hexValue(s.charCodeAt(i + 4)) << 4) | hexValue(s.charCodeAt(i + 5));
      i += 6;
    } else {
      // Any other escape is punctuation or a control character: never in a name.
      return null;
    }
    if (out.length === 0 && !firsts.includes(String.fromCharCode(c))) return null;
    out += String.fromCharCode(c);
  }
  return out;
}

/** A character for an error message: printable ASCII as is, anything else as \uXXXX. */
function show(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `'\\u${c.toString(16).padStart(4, '0')}'`;
}

/** The message of every failure at the end of the text (a cut line ends there). */
export const END_OF_INPUT = 'Unexpected end of JSON input';

function at(n: number, i: number, what: string): string {
  return i >= n ? END_OF_INPUT : `${what} at position ${i}`;
}

// The messages below take the padded text and `n`, the length of the line in it.

/** The message for a character at `i` that cannot be there. Short; never quotes the input beyond it. */
export function unexpected(s: string, n: number, i: number): string {
  return at(n, i, `Unexpected token ${show(s.charCodeAt(i))} in JSON`);
}

/** The message for text after the value. */
export function trailing(n: number, i: number): string {
  return at(n, i, 'Unexpected non-whitespace character after JSON');
}

/** The message for an invalid value token starting at `i` (a string, number, literal, or nothing valid). */
export function tokenError(s: string, n: number, i: number): string {
  const c = s.charCodeAt(i);
  if (c === QUOTE) {
    for (let j = i + 1; j < n; ) {
      const d = s.charCodeAt(j);
      if (d === BACKSLASH) {
        if (isSimpleEscape(s.charCodeAt(j + 1))) j += 2;
        else if (isUnicodeEscape(s, j)) j += 6;
        else return at(n, j, 'Bad escaped character in JSON');
      } else if (d < 0x20) {
        return at(n, j, 'Bad control character in string literal in JSON');
      } else {
        j++;
      }
    }
    return at(n, n, '');
  }
  if (c === MINUS || isDigit(c)) {
    const fault = -1 - numberEnd(s, i);
    const before = s.charCodeAt(fault - 1);
    const why = before === DOT ? 'Unterminated fractional number in JSON' : before === MINUS && fault === i + 1 ? 'No number after minus sign in JSON' : 'Exponent part is missing a number in JSON';
    return at(n, fault, why);
  }
  return unexpected(s, n, i);
}
