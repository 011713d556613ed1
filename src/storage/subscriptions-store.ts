import { z } from 'zod';
import { AuditModelType } from '../analysis/audit/types.ts';
import type { StorageBackend } from './backend.ts';
import { createSerialQueue } from './serial-queue.ts';
import { typedStore } from './typed-store.ts';

export const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
export type Weekday = z.infer<typeof Weekday>;

/** One weekly top-N report posted to one channel (one subscription per channel). */
export const Subscription = z.object({
  guildId: z.string().min(1),
  channelId: z.string().min(1),
  day: Weekday,
  hour: z.number().int().min(0).max(23),
  timezone: z.string().min(1),
  n: z.number().int().min(1).max(200),
  types: z.array(AuditModelType).nonempty(),
  /** Locale the report is written in (the server's preferred locale when subscribed). */
  locale: z.string().min(1),
  createdBy: z.string().min(1),
  createdAt: z.number().int(),
  /** Epoch ms of the next due run. */
  nextRunAt: z.number().int(),
  lastRunAt: z.number().int().nullable(),
});
export type Subscription = z.infer<typeof Subscription>;

/** Weekly report subscriptions, persisted so they survive a restart. */
export interface SubscriptionsStore {
  /** Insert or replace the channel's subscription; resolves true when it replaced one. */
  put(subscription: Subscription): Promise<boolean>;
  get(channelId: string): Promise<Subscription | undefined>;
  /** Remove the channel's subscription; resolves the removed one, if any. */
  remove(channelId: string): Promise<Subscription | undefined>;
  listGuild(guildId: string): Promise<Subscription[]>;
  listAll(): Promise<Subscription[]>;
}

const NAMESPACE = 'bot-subscriptions';
const SCHEMA_VERSION = 1;
const INDEX_KEY = 'index';

/** Keyv-backed {@link SubscriptionsStore}; storage failures surface as STORAGE_IO. */
export function createSubscriptionsStore(storage: StorageBackend): SubscriptionsStore {
  const keyv = storage.keyv(NAMESPACE);
  const subs = typedStore(keyv, Subscription, SCHEMA_VERSION);
  const index = typedStore(keyv, z.array(z.string()), SCHEMA_VERSION);
  const serial = createSerialQueue();
  const key = (channelId: string): string => `channel:${channelId}`;

  const listAll = async (): Promise<Subscription[]> => {
    const ids = (await index.get(INDEX_KEY)) ?? [];
    const found = await Promise.all(ids.map((id) => subs.get(key(id))));
    return found.filter((s): s is Subscription => s !== undefined);
  };

  return {
    put: (subscription) =>
      serial(async () => {
        const value = Subscription.parse(subscription);
        const existed = await subs.has(key(value.channelId));
        await subs.set(key(value.channelId), value);
        const ids = (await index.get(INDEX_KEY)) ?? [];
        if (!ids.includes(value.channelId)) await index.set(INDEX_KEY, [...ids, value.channelId]);
        return existed;
      }),
    get: (channelId) => subs.get(key(channelId)),
    remove: (channelId) =>
      serial(async () => {
        const existing = await subs.get(key(channelId));
        await subs.delete(key(channelId));
        const ids = (await index.get(INDEX_KEY)) ?? [];
        if (ids.includes(channelId)) {
          await index.set(
            INDEX_KEY,
            ids.filter((id) => id !== channelId),
          );
        }
        return existing;
      }),
    listGuild: async (guildId) => (await listAll()).filter((s) => s.guildId === guildId),
    listAll,
  };
}
