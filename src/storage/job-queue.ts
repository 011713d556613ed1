import { z } from 'zod';
import { AuditSelection, BiasReference } from '../analysis/audit/types.ts';
import type { StorageBackend } from './backend.ts';
import { createSerialQueue } from './serial-queue.ts';
import { typedStore } from './typed-store.ts';

/** Who waits for a job's result; enough to post it to the channel after a restart. */
export const JobRequester = z.object({
  kind: z.enum(['interaction', 'subscription']),
  guildId: z.string().nullable(),
  channelId: z.string().min(1),
  /** User to mention when the result is posted outside the interaction (null for subscriptions). */
  userId: z.string().nullable(),
  locale: z.string().min(1),
  /** Whether the channel is age-restricted (decides which sample images may be attached). */
  nsfw: z.boolean(),
});
export type JobRequester = z.infer<typeof JobRequester>;

/** A queued or running audit, persisted so a shutdown does not lose it. */
export const PersistedJob = z.object({
  key: z.string().min(1),
  selection: AuditSelection,
  maxBrowsingLevel: z.number().int().min(1).max(31),
  /** Bias reference (`/audit … reference:`); absent = population. */
  reference: BiasReference.optional(),
  requesters: z.array(JobRequester),
  enqueuedAt: z.number().int(),
});
export type PersistedJob = z.infer<typeof PersistedJob>;

/** Durable list of unfinished audit jobs. */
export interface JobQueueStore {
  save(job: PersistedJob): Promise<void>;
  remove(key: string): Promise<void>;
  /** Unfinished jobs in the order they were first enqueued. */
  list(): Promise<PersistedJob[]>;
}

const NAMESPACE = 'bot-jobs';
const SCHEMA_VERSION = 1;
const INDEX_KEY = 'index';

/** Keyv-backed {@link JobQueueStore}; storage failures surface as STORAGE_IO. */
export function createJobQueueStore(storage: StorageBackend): JobQueueStore {
  const keyv = storage.keyv(NAMESPACE);
  const jobs = typedStore(keyv, PersistedJob, SCHEMA_VERSION);
  const index = typedStore(keyv, z.array(z.string()), SCHEMA_VERSION);
  const serial = createSerialQueue();
  const jobKey = (key: string): string => `job:${key}`;
  return {
    save: (job) =>
      serial(async () => {
        const value = PersistedJob.parse(job);
        await jobs.set(jobKey(value.key), value);
        const keys = (await index.get(INDEX_KEY)) ?? [];
        if (!keys.includes(value.key)) await index.set(INDEX_KEY, [...keys, value.key]);
      }),
    remove: (key) =>
      serial(async () => {
        await jobs.delete(jobKey(key));
        const keys = (await index.get(INDEX_KEY)) ?? [];
        if (keys.includes(key)) {
          await index.set(
            INDEX_KEY,
            keys.filter((k) => k !== key),
          );
        }
      }),
    list: async () => {
      const keys = (await index.get(INDEX_KEY)) ?? [];
      const found = await Promise.all(keys.map((k) => jobs.get(jobKey(k))));
      return found
        .filter((j): j is PersistedJob => j !== undefined)
        .sort((a, b) => a.enqueuedAt - b.enqueuedAt);
    },
  };
}
