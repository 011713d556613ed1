import type { Keyv } from 'keyv';
import type { z } from 'zod';
import { AppError, ErrorCode } from '../analysis/errors.ts';

/** A small typed key-value store: values are validated with zod when read back. */
export interface TypedStore<T> {
  get(key: string): Promise<T | undefined>;
  /** Several keys in one store round trip (one query on sqlite and Redis); undefined where missing or invalid. */
  getMany(keys: readonly string[]): Promise<Array<T | undefined>>;
  set(key: string, value: T, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
}

/**
 * Wrap a namespaced Keyv. Keys are prefixed with the schema version (`v3:…`), so a schema change
 * makes old entries invisible instead of crashing on them; an entry that fails validation is
 * treated as missing and deleted. Storage failures become STORAGE_IO errors.
 */
export function typedStore<S extends z.ZodType>(
  keyv: Keyv,
  schema: S,
  version: number,
): TypedStore<z.infer<S>> {
  const k = (key: string): string => `v${version}:${key}`;
  const io = async <R>(op: string, key: string, fn: () => Promise<R>): Promise<R> => {
    try {
      return await fn();
    } catch (cause) {
      throw new AppError(ErrorCode.STORAGE_IO, `Storage ${op} failed for ${key}`, {
        cause,
        details: { op, key, namespace: keyv.namespace },
      });
    }
  };
  const check = async (key: string, raw: unknown): Promise<z.infer<S> | undefined> => {
    if (raw === undefined || raw === null) return undefined;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      await io('delete', key, () => keyv.delete(k(key)));
      return undefined;
    }
    return parsed.data;
  };
  return {
    async get(key) {
      return check(key, await io('get', key, () => keyv.get(k(key))));
    },
    async getMany(keys) {
      if (keys.length === 0) return [];
      const raws = await io('getMany', keys[0]!, () => keyv.getMany(keys.map(k)));
      const out: Array<z.infer<S> | undefined> = [];
      for (const [i, key] of keys.entries()) out.push(await check(key, raws[i]));
      return out;
    },
    async set(key, value, ttlMs) {
      await io('set', key, () => keyv.set(k(key), value, ttlMs));
    },
    async delete(key) {
      return io('delete', key, () => keyv.delete(k(key)));
    },
    async has(key) {
      return io('has', key, () => keyv.has(k(key)));
    },
  };
}
