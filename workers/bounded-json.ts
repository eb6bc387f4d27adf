/**
 * JSON text of a result, refusing results over a byte bound BEFORE any big
 * string is built. A walk with the rules of JSON.stringify counts the output
 * (exactly for ASCII, UTF-8 bytes otherwise) and stops as soon as the bound
 * is passed; only a value that fits is then stringified natively.
 *
 * Why: one allocation larger than what is left of a worker's heap cap (plus
 * the 16 MiB Node grants a worker past it) makes V8 abort the whole process,
 * not just the worker; and `JSON.stringify(buffer)` of a big Buffer builds a
 * number array many times its size outside any heap cap. A 100 MB string
 * returned by `'x'.repeat(1e8)` is a cheap rope until something flattens it:
 * here only its length is read.
 */

/** Thrown when the result passes the bound. */
export class ResultTooLarge extends Error {
  override get name(): string {
    return 'ResultTooLarge';
  }
}

// Characters JSON.stringify escapes; anything else is copied as UTF-8.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function stringBytes(s: string): number {
  if (!NEEDS_ESCAPE.test(s)) return Buffer.byteLength(s, 'utf8') + 2;
  return Buffer.byteLength(JSON.stringify(s), 'utf8');
}

class Counter {
  #left: number;
  readonly #stack = new Set<object>();

  constructor(max: number) {
    this.#left = max;
  }

  #add(n: number): void {
    this.#left -= n;
    if (this.#left < 0) throw new ResultTooLarge();
  }

  /** Counts `value` as JSON.stringify would write it under `key`; returns false if it writes nothing. */
  value(holder: unknown, key: string, value: unknown): boolean {
    if (value !== null && (typeof value === 'object' || typeof value === 'bigint')) {
      // A view's toJSON (Buffer) or its index keys cost at least 2 bytes per element: refuse before building them.
      if (ArrayBuffer.isView(value)) this.#add(2 * value.byteLength);
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') value = toJSON.call(value, key) as unknown;
    }
    void holder;
    switch (typeof value) {
      case 'string':
        // A length check first: never flatten a string that cannot fit.
        this.#add(value.length + 2);
        this.#add(stringBytes(value) - value.length - 2);
        return true;
      case 'number':
        this.#add(Number.isFinite(value) ? String(value).length : 4);
        return true;
      case 'boolean':
        this.#add(value ? 4 : 5);
        return true;
      case 'bigint':
        throw new TypeError('Do not know how to serialize a BigInt');
      case 'undefined':
      case 'function':
      case 'symbol':
        return false;
    }
    if (value === null) {
      this.#add(4);
      return true;
    }
    const obj = value as object;
    if (this.#stack.has(obj)) throw new TypeError('Converting circular structure to JSON');
    this.#stack.add(obj);
    if (Array.isArray(obj)) {
      this.#add(2 + Math.max(0, obj.length - 1));
      for (let i = 0; i < obj.length; i++) {
        if (!this.value(obj, String(i), obj[i])) this.#add(4); // null
      }
    } else {
      this.#add(2);
      let first = true;
      for (const k of Object.keys(obj)) {
        const before = this.#left;
        const cost = stringBytes(k) + 1 + (first ? 0 : 1);
        this.#add(cost);
        if (this.value(obj, k, (obj as Record<string, unknown>)[k])) first = false;
        else this.#left = before; // skipped keys write nothing
      }
    }
    this.#stack.delete(obj);
    return true;
  }
}

/**
 * The JSON text of `value` (`null` for a value JSON has no text for), or
 * throws ResultTooLarge past `maxBytes`, or what JSON.stringify would throw
 * (BigInt, a cycle, too deep).
 */
export function boundedJson(value: unknown, maxBytes: number): string {
  if (value === null || value === undefined || typeof value === 'boolean' || typeof value === 'number') {
    return JSON.stringify(value) ?? 'null';
  }
  new Counter(maxBytes).value({ '': value }, '', value);
  const json = JSON.stringify(value);
  // The walk and the native serialiser agree except where getters change their answer between calls.
  if (json !== undefined && json.length > maxBytes && Buffer.byteLength(json, 'utf8') > maxBytes) throw new ResultTooLarge();
  return json ?? 'null';
}
