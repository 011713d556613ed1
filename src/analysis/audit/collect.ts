import { basename } from 'node:path';
import type { CivitaiClient } from '../civitai/client.ts';
import {
  type CrawlOptions,
  crawlModel,
  iterateTopModels,
  modelFingerprint,
  normalizeTrainedWords,
  parseModelRef,
  trainingFromHeader,
} from '../civitai/crawl.ts';
import type { ModelRecord, RecordCache } from '../civitai/record.ts';
import { readLocalFile } from '../civitai/safetensors.ts';
import type { Model } from '../civitai/schemas.ts';
import { AppError, isAppError, UserInputError } from '../errors.ts';
import { type Logger, silentLogger } from '../ports.ts';
import type { AuditHooks, AuditSelection } from './types.ts';

export interface CollectDeps {
  client: CivitaiClient;
  records?: RecordCache | undefined;
  logger?: Logger;
  /** Models crawled at the same time during a top-N run. */
  modelConcurrency?: number;
}

export interface Collected {
  records: ModelRecord[];
  notes: string[];
  /** Upstream model records reused from the cache (fingerprint unchanged). */
  fromCache: number;
}

/**
 * Fetch the crawl records for a selection. A top-N run stores each model's record as soon as it
 * is complete, so an interrupted run resumes from the cache without refetching what it has.
 * Errors: INPUT_INVALID (bad reference), CIVITAI_NOT_FOUND, transport codes, ABORTED.
 */
export async function collectRecords(
  deps: CollectDeps,
  selection: AuditSelection,
  crawl: CrawlOptions,
  hooks: AuditHooks = {},
): Promise<Collected> {
  const logger = deps.logger ?? silentLogger;
  const notes: string[] = [];
  let fromCache = 0;
  const crawlOne = async (model: Model): Promise<ModelRecord> => {
    const fingerprint = modelFingerprint(model);
    const cached = await deps.records?.get(model.id, fingerprint);
    if (cached) {
      fromCache++;
      return cached;
    }
    const record = await crawlModel(deps.client, model, crawl, { ...hooks, logger });
    await deps.records?.set(record);
    return record;
  };

  switch (selection.kind) {
    case 'model': {
      const ref = parseModelRef(selection.ref);
      hooks.onProgress?.({ stage: 'fetching', done: 0, total: 1, message: `model ${ref.modelId}` });
      const model = await getModelOrExplain(deps.client, ref.modelId, hooks.signal);
      const record = await crawlOne(model);
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
      return { records: [await crawlOne(model)], notes, fromCache };
    }
    case 'file':
      return collectLocalFile(deps, selection.path, hooks, notes, crawlOne);
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
      const records = await mapOrdered(models, deps.modelConcurrency ?? 2, async (model, index) => {
        const record = await crawlOne(model);
        hooks.onProgress?.({ stage: 'crawling', done: index + 1, total: models.length, message: model.name });
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
  hooks: AuditHooks,
  notes: string[],
  crawlOne: (model: Model) => Promise<ModelRecord>,
): Promise<Collected> {
  if (!path.toLowerCase().endsWith('.safetensors')) {
    throw new UserInputError(`${path} is not a .safetensors file.`);
  }
  const local = await readLocalFile(path, (done) =>
    hooks.onProgress?.({ stage: 'hashing', done, total: 0, message: basename(path) }),
  );
  const training = trainingFromHeader(local.header, null);
  try {
    const version = await deps.client.getVersionByHash(local.sha256, hooks.signal);
    const model = await deps.client.getModel(version.modelId, hooks.signal);
    const record = await crawlOne(model);
    notes.push(
      `${basename(path)} (SHA256 ${local.sha256.slice(0, 12)}…) is version "${version.name}" of model ${model.id}.`,
    );
    // The local header is authoritative for this version: no Range request needed.
    const versions = record.versions.map((v) => (v.id === version.id ? { ...v, training } : v));
    return { records: [{ ...record, versions }], notes, fromCache: 0 };
  } catch (error) {
    if (!isAppError(error) || error.code === 'ABORTED') throw error;
    const why =
      error.code === 'CIVITAI_NOT_FOUND'
        ? 'Civitai has no published model with this file hash'
        : `the Civitai lookup failed (${error.userMessage})`;
    notes.push(`${basename(path)}: ${why}; only the local file header was analysed.`);
    return { records: [localOnlyRecord(path, local.sha256, training)], notes, fromCache: 0 };
  }
}

function localOnlyRecord(
  path: string,
  sha256: string,
  training: ReturnType<typeof trainingFromHeader>,
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
    comments: { status: 'skipped', reason: 'local file: not on Civitai', items: [] },
    fingerprint: sha256.slice(0, 16),
    fetchedAt: new Date().toISOString(),
  };
}

/** Map with bounded concurrency, keeping input order; the first failure rejects. */
export async function mapOrdered<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (done !== items.length) throw new AppError('INTERNAL', 'mapOrdered lost items');
  return results;
}
