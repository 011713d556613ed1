import type KeyvSqlite from '@keyv/sqlite';
import type { Keyv } from 'keyv';
import { UserInputError } from '../analysis/errors.ts';
import { openStorage, type StorageBackend } from '../storage/backend.ts';

/** What `loralens migrate` copied: entries per namespace, and expired entries left behind. */
export interface MigrateReport {
  namespaces: Array<{ namespace: string; copied: number; expired: number }>;
  total: number;
}

interface RawEntry {
  value: unknown;
  expires?: number | null;
}

/** Every (namespace, key) of a sqlite or Redis store, as Keyv wrote them. */
async function listKeys(source: StorageBackend): Promise<Array<{ namespace: string; key: string }>> {
  if (source.kind === 'sqlite') {
    const store = source.keyv('__migrate__').store as KeyvSqlite;
    const rows = (await store.query('SELECT key FROM keyv')) as Array<{ key: string }>;
    return rows.flatMap(({ key }) => {
      const at = key.indexOf(':');
      return at > 0 ? [{ namespace: key.slice(0, at), key: key.slice(at + 1) }] : [];
    });
  }
  if (source.kind === 'redis') {
    // @keyv/redis writes `<namespace>::<namespace>:<key>`.
    const store = source.keyv('__migrate__').store as { getClient(): Promise<RedisScanner> };
    const client = await store.getClient();
    const found: Array<{ namespace: string; key: string }> = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, { MATCH: '*::*', COUNT: 500 }).then(normaliseScan);
      cursor = next;
      for (const full of keys) {
        const at = full.indexOf('::');
        const namespace = full.slice(0, at);
        const rest = full.slice(at + 2);
        if (rest.startsWith(`${namespace}:`))
          found.push({ namespace, key: rest.slice(namespace.length + 1) });
      }
    } while (cursor !== '0');
    return found;
  }
  throw new UserInputError(
    'migrate copies from a sqlite:// or redis:// store; memory:// holds nothing to copy.',
  );
}

interface RedisScanner {
  scan(cursor: string, options: { MATCH: string; COUNT: number }): Promise<unknown>;
}

function normaliseScan(reply: unknown): [string, string[]] {
  const r = reply as { cursor: string | number; keys: string[] };
  return [String(r.cursor), r.keys];
}

/**
 * Copy every namespace of one store into another (`--from sqlite://… --to redis://…`, or back).
 * Values keep their expiry; expired entries are not copied. Re-running overwrites the same keys,
 * so a second run copies the same counts and duplicates nothing. STORAGE_IO on a failed read/write.
 */
export async function migrateStore(fromUrl: string, toUrl: string, now = Date.now()): Promise<MigrateReport> {
  if (fromUrl === toUrl) throw new UserInputError('--from and --to are the same store.');
  const source = openStorage(fromUrl);
  const target = openStorage(toUrl);
  try {
    const keys = await listKeys(source);
    const byNamespace = new Map<string, string[]>();
    for (const { namespace, key } of keys) {
      if (namespace === '__migrate__') continue;
      byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), key]);
    }
    const report: MigrateReport = { namespaces: [], total: 0 };
    for (const [namespace, list] of [...byNamespace].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const from: Keyv = source.keyv(namespace);
      const to: Keyv = target.keyv(namespace);
      let copied = 0;
      let expired = 0;
      for (const key of list) {
        const raw = (await from.get(key, { raw: true })) as RawEntry | undefined;
        if (raw === undefined || raw === null) {
          expired++;
          continue;
        }
        const ttl = typeof raw.expires === 'number' ? raw.expires - now : undefined;
        if (ttl !== undefined && ttl <= 0) {
          expired++;
          continue;
        }
        await to.set(key, raw.value, ttl);
        copied++;
      }
      report.namespaces.push({ namespace, copied, expired });
      report.total += copied;
    }
    return report;
  } finally {
    await Promise.allSettled([source.close(), target.close()]);
  }
}

/** `loralens migrate`: print one line per namespace and a total. */
export async function runMigrate(
  flags: { from: string; to: string },
  io: { stdout: NodeJS.WritableStream },
): Promise<MigrateReport> {
  const report = await migrateStore(flags.from, flags.to);
  const width = Math.max(9, ...report.namespaces.map((n) => n.namespace.length));
  for (const n of report.namespaces) {
    const skipped = n.expired > 0 ? ` (${n.expired} expired, not copied)` : '';
    io.stdout.write(`${n.namespace.padEnd(width)}  ${String(n.copied).padStart(7)}${skipped}\n`);
  }
  io.stdout.write(`${'total'.padEnd(width)}  ${String(report.total).padStart(7)}\n`);
  return report;
}
