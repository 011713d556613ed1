import { createHash } from 'node:crypto';
import type { Keyv } from 'keyv';
import { z } from 'zod';
import type { ImageFeatureCache } from '../analysis/images/features.ts';
import { typedStore } from './typed-store.ts';

// The envelope is checked here; the value itself is checked by its extractor's schema in the pass.
// `packed: 1` marks a value whose long numeric arrays are stored as base64 bytes (see packNumbers);
// entries written before packing existed have no flag and are read as they are.
const storedFeatureSchema = z.object({
  extractor: z.string(),
  version: z.string(),
  value: z.unknown(),
  packed: z.literal(1).optional(),
});

const urlHash = (url: string): string => createHash('sha256').update(url, 'utf8').digest('hex');

/** Key of one extractor result: extractor name and version + hash of the image URL as requested. */
export function imageFeatureKey(url: string, extractor: string, version: string): string {
  return `${extractor}:${version}:${urlHash(url)}`;
}

/** Arrays shorter than this stay JSON (packing a pair of coordinates saves nothing). */
const PACK_MIN_LENGTH = 16;

interface PackedArray {
  /** Little-endian IEEE 754 bytes, base64: float32 when every element is exactly a float32, else float64. */
  $f32?: string;
  $f64?: string;
}

/**
 * Replace every array of at least {@link PACK_MIN_LENGTH} finite numbers by its bytes (base64), lossless:
 * float32 when each element round-trips through `Math.fround` (a CLIP embedding from the ONNX tower),
 * float64 otherwise. A 512-d embedding takes 2.7 kB instead of about 10.9 kB of JSON digits, and reading it
 * back is one base64 decode instead of 512 number parses (the warm audit reads one per image).
 * Arrays with non-finite numbers are left to JSON, which is how they were stored before.
 */
export function packNumbers(value: unknown): unknown {
  if (Array.isArray(value)) {
    if (value.length >= PACK_MIN_LENGTH && value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      const nums = value as number[];
      const f32 = nums.every((v) => Math.fround(v) === v);
      const typed = f32 ? Float32Array.from(nums) : Float64Array.from(nums);
      const b64 = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).toString('base64');
      return f32 ? { $f32: b64 } : { $f64: b64 };
    }
    return value.map(packNumbers);
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = packNumbers(v);
    return out;
  }
  return value;
}

/** Inverse of {@link packNumbers}; undefined when a packed array is corrupt (the entry then reads as missing). */
export function unpackNumbers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unpackNumbers);
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === '$f32' || keys[0] === '$f64')) {
      const packed = value as PackedArray;
      const b64 = packed.$f32 ?? packed.$f64;
      if (typeof b64 !== 'string') return undefined;
      const bytes = Buffer.from(b64, 'base64');
      const width = packed.$f32 !== undefined ? 4 : 8;
      if (bytes.length % width !== 0) return undefined;
      // Copy into an aligned buffer (a base64 decode may share a pool slab at any offset).
      const aligned = new Uint8Array(bytes.length);
      aligned.set(bytes);
      return Array.from(width === 4 ? new Float32Array(aligned.buffer) : new Float64Array(aligned.buffer));
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const got = unpackNumbers(v);
      if (got === undefined && v !== undefined) return undefined;
      out[k] = got;
    }
    return out;
  }
  return value;
}

/**
 * Keyv-backed {@link ImageFeatureCache}: entries are versioned and validated when read back (an entry
 * of another extractor or version under the same key reads as missing). Long numeric arrays are stored
 * packed ({@link packNumbers}). Throws STORAGE_IO.
 */
export function keyvImageFeatureCache(keyv: Keyv, options: { ttlMs?: number } = {}): ImageFeatureCache {
  const store = typedStore(keyv, storedFeatureSchema, 1);
  const read = (
    entry: z.infer<typeof storedFeatureSchema> | undefined,
    extractor: string,
    version: string,
  ): unknown => {
    if (!entry || entry.extractor !== extractor || entry.version !== version) return undefined;
    return entry.packed === 1 ? unpackNumbers(entry.value) : entry.value;
  };
  return {
    async get(url, extractor, version) {
      return read(await store.get(imageFeatureKey(url, extractor, version)), extractor, version);
    },
    async getMany(entries) {
      const got = await store.getMany(entries.map((e) => imageFeatureKey(e.url, e.extractor, e.version)));
      return entries.map((e, i) => read(got[i], e.extractor, e.version));
    },
    async set(url, extractor, version, value) {
      await store.set(
        imageFeatureKey(url, extractor, version),
        { extractor, version, value: packNumbers(value), packed: 1 },
        options.ttlMs,
      );
    },
  };
}

/** In-process cache (tests, runs without a store); counts reads and writes. */
export function memoryImageFeatureCache(): ImageFeatureCache & { size(): number } {
  const map = new Map<string, unknown>();
  const get = async (url: string, extractor: string, version: string): Promise<unknown> =>
    structuredClone(map.get(imageFeatureKey(url, extractor, version)));
  return {
    get,
    getMany: (entries) => Promise.all(entries.map((e) => get(e.url, e.extractor, e.version))),
    set: async (url, extractor, version, value) => {
      map.set(imageFeatureKey(url, extractor, version), structuredClone(value));
    },
    size: () => map.size,
  };
}
