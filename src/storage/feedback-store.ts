import { z } from 'zod';
import { Detector } from '../analysis/audit/types.ts';
import type { StorageBackend } from './backend.ts';
import { createSerialQueue } from './serial-queue.ts';
import { typedStore } from './typed-store.ts';

/** The flagged item a report line (a Discord message) stands for. */
export const FeedbackItem = z.object({
  itemKey: z.string().min(1),
  modelId: z.number().int(),
  detector: Detector,
  rule: z.string(),
  title: z.string(),
});
export type FeedbackItem = z.infer<typeof FeedbackItem>;

const Vote = z.object({ userId: z.string().min(1), at: z.number().int() });
export type Vote = z.infer<typeof Vote>;

const ItemRecord = z.object({
  item: FeedbackItem,
  firstShownAt: z.number().int(),
  votes: z.array(Vote),
  disputed: z.boolean(),
});
type ItemRecord = z.infer<typeof ItemRecord>;

const DetectorStats = z.object({ shown: z.number().int().min(0), disputed: z.number().int().min(0) });
export type DetectorStats = z.infer<typeof DetectorStats>;

export interface VoteOutcome {
  /** False when the call changed nothing (a repeated vote or a withdrawal without a vote). */
  changed: boolean;
  votes: number;
  disputed: boolean;
}

/** False-positive votes from reactions, per flagged item, and per-detector precision counts. */
export interface FeedbackStore {
  /** Remember that `messageId` is the report line for `item` (and count the item as shown once). */
  linkMessage(messageId: string, item: FeedbackItem, at: number): Promise<void>;
  itemForMessage(messageId: string): Promise<FeedbackItem | undefined>;
  /** Record `userId`'s false-positive vote on an item; idempotent per user and item. */
  vote(itemKey: string, userId: string, at: number): Promise<VoteOutcome>;
  /** Withdraw `userId`'s vote (reaction removed); idempotent. */
  withdraw(itemKey: string, userId: string): Promise<VoteOutcome>;
  status(itemKey: string): Promise<{ votes: number; disputed: boolean }>;
  votesFor(itemKey: string): Promise<Vote[]>;
  detectorStats(detector: Detector): Promise<DetectorStats>;
}

export interface FeedbackStoreOptions {
  /** Votes at which an item counts as disputed. */
  disputeThreshold: number;
  /** How long a report line stays votable (default 180 days). */
  messageTtlMs?: number;
}

const NAMESPACE = 'bot-feedback';
const SCHEMA_VERSION = 1;

/** Keyv-backed {@link FeedbackStore}; storage failures surface as STORAGE_IO. */
export function createFeedbackStore(storage: StorageBackend, options: FeedbackStoreOptions): FeedbackStore {
  const keyv = storage.keyv(NAMESPACE);
  const messages = typedStore(keyv, FeedbackItem, SCHEMA_VERSION);
  const items = typedStore(keyv, ItemRecord, SCHEMA_VERSION);
  const detectors = typedStore(keyv, DetectorStats, SCHEMA_VERSION);
  const serial = createSerialQueue();
  const threshold = Math.max(1, Math.floor(options.disputeThreshold));
  const messageTtl = options.messageTtlMs ?? 180 * 86_400_000;

  const itemKey = (key: string): string => `item:${key}`;
  const detectorKey = (d: string): string => `detector:${d}`;

  const bumpDetector = async (detector: string, shown: number, disputed: number): Promise<void> => {
    const current = (await detectors.get(detectorKey(detector))) ?? { shown: 0, disputed: 0 };
    await detectors.set(detectorKey(detector), {
      shown: Math.max(0, current.shown + shown),
      disputed: Math.max(0, current.disputed + disputed),
    });
  };

  const update = async (key: string, change: (record: ItemRecord) => boolean): Promise<VoteOutcome> => {
    const record = await items.get(itemKey(key));
    if (!record) return { changed: false, votes: 0, disputed: false };
    const wasDisputed = record.disputed;
    const changed = change(record);
    record.disputed = record.votes.length >= threshold;
    if (changed) {
      await items.set(itemKey(key), record);
      if (record.disputed !== wasDisputed)
        await bumpDetector(record.item.detector, 0, record.disputed ? 1 : -1);
    }
    return { changed, votes: record.votes.length, disputed: record.disputed };
  };

  return {
    linkMessage: (messageId, item, at) =>
      serial(async () => {
        const value = FeedbackItem.parse(item);
        await messages.set(`message:${messageId}`, value, messageTtl);
        if (!(await items.has(itemKey(value.itemKey)))) {
          await items.set(itemKey(value.itemKey), {
            item: value,
            firstShownAt: at,
            votes: [],
            disputed: false,
          });
          await bumpDetector(value.detector, 1, 0);
        }
      }),
    itemForMessage: (messageId) => messages.get(`message:${messageId}`),
    vote: (key, userId, at) =>
      serial(() =>
        update(key, (record) => {
          if (record.votes.some((v) => v.userId === userId)) return false;
          record.votes.push({ userId, at });
          return true;
        }),
      ),
    withdraw: (key, userId) =>
      serial(() =>
        update(key, (record) => {
          const before = record.votes.length;
          record.votes = record.votes.filter((v) => v.userId !== userId);
          return record.votes.length !== before;
        }),
      ),
    status: async (key) => {
      const record = await items.get(itemKey(key));
      return { votes: record?.votes.length ?? 0, disputed: record?.disputed ?? false };
    },
    votesFor: async (key) => (await items.get(itemKey(key)))?.votes ?? [],
    detectorStats: async (detector) =>
      (await detectors.get(detectorKey(detector))) ?? { shown: 0, disputed: 0 },
  };
}
