import { createHash, type Hash } from 'node:crypto';

/**
 * Canonical hashing and exact JSON for results stored between audits (the bias results, the per-model
 * text and training results): a cache key must not depend on property order, and a stored result must
 * read back as the numbers it was computed with.
 */

const numberToken = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

/**
 * A hash fed in large pieces: text tokens are gathered into one string and handed over when binary data
 * comes or the text grows long. sha256 of the concatenation is the same however it is chunked, and every
 * token starts with an ASCII tag, so the UTF-8 bytes match token-by-token feeding exactly (cache keys of
 * earlier runs still match); a `hash.update` per token was most of the warm top-200's 0.5 s here.
 */
export class Feeder {
  private text = '';
  constructor(private readonly hash: Hash) {}
  add(token: string): void {
    this.text += token;
    if (this.text.length > 1 << 16) this.flush();
  }
  bytes(data: Uint8Array): void {
    this.flush();
    this.hash.update(data);
  }
  flush(): void {
    if (this.text.length > 0) this.hash.update(this.text, 'utf8');
    this.text = '';
  }
}

/** Feed a canonical, type-tagged rendering of a JSON-like value into the hash (object keys sorted). */
export function feedCanonical(out: Feeder, value: unknown): void {
  if (value === null || value === undefined) {
    out.add(value === null ? 'n;' : 'u;');
  } else if (typeof value === 'number') {
    out.add(`d${numberToken(value)};`);
  } else if (typeof value === 'string') {
    out.add(`s${value.length}:${value}`);
  } else if (typeof value === 'boolean') {
    out.add(value ? 't;' : 'f;');
  } else if (ArrayBuffer.isView(value)) {
    feedCanonical(out, Array.from(value as unknown as ArrayLike<number>));
  } else if (Array.isArray(value)) {
    if (value.length > 0 && value.every((x) => typeof x === 'number')) {
      // Embeddings: their exact float64 bits, without printing hundreds of thousands of numbers.
      const bits = Float64Array.from(value as number[]);
      out.add(`F${bits.length}:`);
      out.bytes(new Uint8Array(bits.buffer));
      return;
    }
    out.add(`[${value.length}:`);
    for (const x of value) feedCanonical(out, x);
    out.add(']');
  } else if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    out.add(`{${entries.length}:`);
    for (const [k, v] of entries) {
      feedCanonical(out, k);
      feedCanonical(out, v);
    }
    out.add('}');
  } else {
    out.add(`?${String(value)};`);
  }
}

/** sha256 (hex) of the canonical rendering of `parts` in order (property order never matters). */
export function canonicalHash(...parts: unknown[]): string {
  const hash = createHash('sha256');
  const out = new Feeder(hash);
  for (const part of parts) feedCanonical(out, part);
  out.flush();
  return hash.digest('hex');
}

const NON_FINITE = '$number';

/**
 * JSON in which NaN, ±Infinity and −0 are tagged (`{"$number":"NaN"}`) so that they come back as
 * themselves; plain JSON would turn them into null and 0. Typed arrays are written as plain arrays.
 */
export function stringifyExact(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)))
      return { [NON_FINITE]: numberToken(v) };
    if (ArrayBuffer.isView(v) && !(v instanceof DataView))
      return Array.from(v as unknown as ArrayLike<number>);
    return v;
  });
}

/** The value of {@link stringifyExact} text; undefined when the text is not JSON. */
export function parseExact(text: string): unknown {
  try {
    return JSON.parse(text, (_key, v: unknown) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const keys = Object.keys(v);
        const tag = (v as Record<string, unknown>)[NON_FINITE];
        if (keys.length === 1 && typeof tag === 'string') return Number(tag);
      }
      return v;
    });
  } catch {
    return undefined;
  }
}
