import { defaultDeserialize } from '@keyv/serialize';

/**
 * How every store writes and reads its entries (Keyv's `{ value, expires }`), on sqlite and Redis alike.
 *
 * Keyv's default codec walks each value in JavaScript to escape strings that start with ':' and turn
 * Buffers into ':base64:' strings, and reads back with a `JSON.parse` reviver that is called for every
 * string, number and object in the entry. The warm top-200 audit reads about 30 MB of entries; that
 * reviver alone was 0.8 s of it. Nothing loralens stores is a Buffer (binary data is stored as base64
 * strings by its own cache), so entries are written as plain JSON behind a one-character tag and read
 * back with a plain `JSON.parse`.
 *
 * Entries written by Keyv's default codec (every store made before this codec) start with '{' and are
 * still read with Keyv's reader, so existing caches stay valid; JSON text never starts with the tag.
 */
export const ENTRY_TAG = '~';

export function serializeEntry(data: unknown): string {
  return ENTRY_TAG + JSON.stringify(data);
}

export function deserializeEntry<T>(text: string): T {
  if (text.startsWith(ENTRY_TAG)) return JSON.parse(text.slice(ENTRY_TAG.length)) as T;
  return defaultDeserialize(text) as T;
}
