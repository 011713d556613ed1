import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { CivitaiClient } from '../civitai/client.ts';
import {
  type CrawlOptions,
  crawlModel,
  isUpstreamFailure,
  iterateTopModels,
  modelFingerprint,
  normalizeTrainedWords,
  parseModelRef,
  trainingFromHeader,
} from '../civitai/crawl.ts';
import { throwIfAborted } from '../civitai/errors.ts';
import type { ModelRecord, RecordCache } from '../civitai/record.ts';
import { readLocalFile } from '../civitai/safetensors.ts';
import type { Model } from '../civitai/schemas.ts';
import { isAppError, UserInputError } from '../errors.ts';
import { type Clock, type Logger, silentLogger, systemClock } from '../ports.ts';
import type { AuditHooks, AuditSelection } from './types.ts';

export interface CollectDeps {
  client: CivitaiClient;
  records?: RecordCache | undefined;
  logger?: Logger;
  /** Models crawled at the same time during a top-N run (default 2; the service passes CIVITAI_CONCURRENCY). */
  modelConcurrency?: number;
  /** Stamps the records' `fetchedAt` (default: the system clock). */
  clock?: Clock;
  /**
   * Called with each model's record as soon as it is complete (crawled or read from the cache), while
   * later models are still being fetched: the image pass starts on its images right away.
   */
  onRecord?: (record: ModelRecord) => void;
}

export interface Collected {
  records: ModelRecord[];
  notes: string[];
  /** Upstream model records reused from the cache (fingerprint unchanged). */
  fromCache: number;
}

/**
 * Fetch the crawl records for a selection. A top-N run stores each model's record as soon as it
 * is complete, so an interrupted run resumes from the cache without refetching what it has. A
 * record is stored only when its crawl finished with the signal not aborted; on the first failure
 * no new model is started and the call settles only once the models in flight have stopped.
 * Errors: INPUT_INVALID (bad reference), CIVITAI_NOT_FOUND, transport codes, STORAGE_IO, ABORTED.
 */
export async function collectRecords(
  deps: CollectDeps,
  selection: AuditSelection,
  crawl: CrawlOptions,
  hooks: AuditHooks = {},
): Promise<Collected> {
  const collected = await collect(deps, selection, crawl, hooks);
  for (const record of collected.records) collected.notes.push(...recordNotes(record));
  return collected;
}

/** The run-level notes for a record's text notes (cuts, flattened nesting): at most three per model. */
function recordNotes(record: ModelRecord): string[] {
  const shown = record.notes.slice(0, 3).map((note) => `Model ${record.id} (${record.name}): ${note}.`);
  const more = record.notes.length - shown.length;
  if (more > 0) shown.push(`Model ${record.id}: ${more} more text note(s) in its crawl record.`);
  return shown;
}

async function collect(
  deps: CollectDeps,
  selection: AuditSelection,
  crawl: CrawlOptions,
  hooks: AuditHooks,
): Promise<Collected> {
  const logger = deps.logger ?? silentLogger;
  const notes: string[] = [];
  let fromCache = 0;
  const crawlOne = async (model: Model, options: CrawlOptions = crawl): Promise<ModelRecord> => {
    const fingerprint = modelFingerprint(model);
    // A record is reused only when it was crawled the same way (options, key present or not).
    const variant = crawlVariant(options, deps.client.hasApiKey);
    throwIfAborted(hooks.signal);
    const cached = await deps.records?.get(model.id, fingerprint, variant);
    if (cached) {
      fromCache++;
      deps.onRecord?.(cached);
      return cached;
    }
    const record = await crawlModel(deps.client, model, options, { ...hooks, logger, clock: deps.clock });
    // Interrupted while this model was crawled: whatever it holds, it is not stored.
    throwIfAborted(hooks.signal);
    await deps.records?.set(record, variant);
    deps.onRecord?.(record);
    return record;
  };

  switch (selection.kind) {
    case 'model': {
      const ref = parseModelRef(selection.ref, [new URL(deps.client.origin).host]);
      hooks.onProgress?.({ stage: 'fetching', done: 0, total: 1, message: `model ${ref.modelId}` });
      const model = await getModelOrExplain(deps.client, ref.modelId, hooks.signal);
      if (ref.versionId !== undefined && !model.modelVersions.some((v) => v.id === ref.versionId)) {
        throw new UserInputError(`Model ${ref.modelId} has no published version ${ref.versionId}.`);
      }
      const record = await crawlOne(model, { ...crawl, targetVersionId: ref.versionId });
      hooks.onProgress?.({ stage: 'fetching', done: 1, total: 1 });
      return { records: [record], notes, fromCache };
    }
    case 'hash': {
      const hash = selection.hash.trim();
      if (!/^[0-9a-fA-F]{8,64}$/.test(hash)) {
        throw new UserInputError(
          `"${hash}" is not a file hash (SHA256, AutoV2 or another hex hash Civitai knows).`,
        );
      }
      const version = await deps.client.getVersionByHash(hash, hooks.signal).catch((error: unknown) => {
        if (isAppError(error) && error.code === 'CIVITAI_NOT_FOUND') {
          throw new UserInputError(`Civitai knows no published model file with hash ${hash.toUpperCase()}.`);
        }
        throw error;
      });
      notes.push(
        `Hash ${hash.toUpperCase()} is version ${version.id} ("${version.name}") of model ${version.modelId}.`,
      );
      const model = await getModelOrExplain(deps.client, version.modelId, hooks.signal);
      return {
        records: [await crawlOne(model, { ...crawl, targetVersionId: version.id })],
        notes,
        fromCache,
      };
    }
    case 'file':
      return collectLocalFile(deps, selection.path, crawl, hooks, notes, crawlOne);
    case 'top': {
      const models: Model[] = [];
      hooks.onProgress?.({ stage: 'listing', done: 0, total: selection.n });
      for await (const model of iterateTopModels(deps.client, selection, hooks.signal)) {
        models.push(model);
        hooks.onProgress?.({ stage: 'listing', done: models.length, total: selection.n });
      }
      if (models.length < selection.n) {
        notes.push(
          `Only ${models.length} models of the selected types were published between ${selection.from} and ${selection.to}; fewer than the ${selection.n} asked for.`,
        );
      }
      let done = 0;
      const records = await mapOrdered(models, deps.modelConcurrency ?? 2, async (model) => {
        const record = await crawlOne(model);
        done++;
        hooks.onProgress?.({ stage: 'crawling', done, total: models.length, message: model.name });
        return record;
      });
      return { records, notes, fromCache };
    }
  }
}

async function getModelOrExplain(client: CivitaiClient, id: number, signal?: AbortSignal): Promise<Model> {
  try {
    return await client.getModel(id, signal);
  } catch (error) {
    if (isAppError(error) && error.code === 'CIVITAI_NOT_FOUND') {
      throw new UserInputError(`Civitai has no model with id ${id}.`, { modelId: id });
    }
    throw error;
  }
}

async function collectLocalFile(
  deps: CollectDeps,
  path: string,
  crawl: CrawlOptions,
  hooks: AuditHooks,
  notes: string[],
  crawlOne: (model: Model, options?: CrawlOptions) => Promise<ModelRecord>,
): Promise<Collected> {
  if (!path.toLowerCase().endsWith('.safetensors')) {
    throw new UserInputError(`${path} is not a .safetensors file.`);
  }
  const local = await readLocalFile(path, (done, total) =>
    hooks.onProgress?.({ stage: 'hashing', done, total, message: basename(path) }),
  );
  const training = trainingFromHeader(local.header, null);
  try {
    const version = await deps.client.getVersionByHash(local.sha256, hooks.signal);
    const model = await deps.client.getModel(version.modelId, hooks.signal);
    // The local header is authoritative for this version: no Range request at all.
    const record = await crawlOne(model, { ...crawl, targetVersionId: version.id, remoteHeaders: false });
    notes.push(
      `${basename(path)} (SHA256 ${local.sha256.slice(0, 12)}…) is version "${version.name}" of model ${model.id}.`,
    );
    const versions = record.versions.map((v) => (v.id === version.id ? { ...v, training } : v));
    return { records: [{ ...record, versions }], notes, fromCache: 0 };
  } catch (error) {
    throwIfAborted(hooks.signal);
    if (!isUpstreamFailure(error)) throw error;
    const why =
      error.code === 'CIVITAI_NOT_FOUND'
        ? 'Civitai has no published model with this file hash'
        : `the Civitai lookup failed (${error.userMessage})`;
    notes.push(`${basename(path)}: ${why}; only the local file header was analysed.`);
    return {
      records: [localOnlyRecord(path, local.sha256, training, deps.clock ?? systemClock)],
      notes,
      fromCache: 0,
    };
  }
}

function localOnlyRecord(
  path: string,
  sha256: string,
  training: ReturnType<typeof trainingFromHeader>,
  clock: Clock,
): ModelRecord {
  const name = training.outputName ?? basename(path, '.safetensors');
  return {
    id: 0,
    name,
    type: 'LORA',
    url: '',
    creator: null,
    nsfw: false,
    nsfwLevel: null,
    tags: [],
    stats: {
      downloadCount: 0,
      favoriteCount: 0,
      thumbsUpCount: 0,
      thumbsDownCount: 0,
      commentCount: 0,
      ratingCount: 0,
      rating: 0,
    },
    publishedAt: null,
    updatedAt: null,
    descriptionText: '',
    descriptionMarkdown: '',
    versions: [
      {
        id: 0,
        name: basename(path),
        baseModel: training.baseModelVersion,
        createdAt: null,
        publishedAt: null,
        updatedAt: null,
        trainedWords: [],
        triggerWords: normalizeTrainedWords([]),
        changelogText: '',
        changelogMarkdown: '',
        downloadUrl: null,
        files: [
          {
            id: 0,
            name: basename(path),
            sizeKB: null,
            type: 'Model',
            format: 'SafeTensor',
            primary: true,
            sha256,
            autoV2: sha256.slice(0, 10),
            downloadUrl: null,
          },
        ],
        images: [],
        imagesSource: 'none',
        training,
      },
    ],
    targetVersionId: 0,
    comments: { status: 'skipped', reason: 'local file: not on Civitai', items: [] },
    fingerprint: sha256.slice(0, 16),
    fetchedAt: new Date(clock.now()).toISOString(),
    notes: [],
  };
}

/**
 * Map with bounded concurrency, keeping input order. The first failure stops new work; the promise
 * rejects with that failure only after every call in flight has settled, so nothing still runs
 * (or writes to a cache) once the caller moves on to shut down.
 */
export async function mapOrdered<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}

/** A short digest of how a record was crawled; part of its cache key. */
export function crawlVariant(options: CrawlOptions, hasApiKey: boolean): string {
  const parts = [
    options.comments && hasApiKey ? 'comments' : 'no-comments',
    options.maxBrowsingLevel,
    options.imagesPerVersion,
    options.versionsWithImages,
    options.headerVersions,
    options.maxTextItems,
    options.targetVersionId ?? '-',
    options.remoteHeaders === false ? 'local-header' : 'remote-header',
  ];
  return createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 12);
}
