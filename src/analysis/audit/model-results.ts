import { z } from 'zod';
import { canonicalHash, parseExact, stringifyExact } from '../canonical.ts';
import type { ModelRecord } from '../civitai/record.ts';
import { type ModelAnalysis, yieldToEventLoop } from './analyzer.ts';
import { Cell } from './metrics-csv.ts';
import { Finding } from './types.ts';

/**
 * Results of a per-model analysis (text, training) stored between audits, by a key over the analysis's
 * name and version and the model's whole record ({@link modelResultKey}); a Keyv adapter lives in
 * src/storage/model-result-cache.ts. Values are opaque text; one that does not decode reads as a miss.
 */
export interface ModelResultCache {
  /** Several keys in one store round trip, in the order asked. */
  getMany(keys: readonly string[]): Promise<Array<string | undefined>>;
  set(key: string, value: string): Promise<void>;
}

/**
 * sha256 over the analysis's name, its version, its options and the model's record. The whole record
 * is hashed, not the fields the analysis reads today, so no field can be forgotten: a re-crawled model
 * whose comments, versions or header changed is analysed again.
 */
export function modelResultKey(name: string, version: string, options: unknown, record: ModelRecord): string {
  return canonicalHash('model-result-1', name, version, options ?? null, recordDigest(record));
}

// A record's digest, once per record object: the text and the training analysis key on the same record.
const digests = new WeakMap<ModelRecord, string>();

/** sha256 of a record's canonical form (property order never matters). Records are not mutated once built. */
export function recordDigest(record: ModelRecord): string {
  let digest = digests.get(record);
  if (digest === undefined) {
    digest = canonicalHash(record);
    digests.set(record, digest);
  }
  return digest;
}

const StoredAnalysis = z.object({
  flagged: z.boolean().nullable(),
  unmeasured: z.string().optional(),
  findings: z.array(Finding),
  metrics: z.record(z.string(), Cell),
  evidence: z.unknown(),
  note: z.string().optional(),
  informational: z.literal(true).optional(),
});

/** Text of one model's analysis (exact JSON: NaN, ±Infinity and −0 come back as themselves). */
export function encodeModelAnalysis(analysis: ModelAnalysis): string {
  return stringifyExact(analysis);
}

/**
 * One model's analysis from {@link encodeModelAnalysis} text, checked against the schema; undefined when
 * it does not decode or validate. The decoded value is returned, not the schema's output, so every
 * field of the evidence is exactly as stored.
 */
export function decodeModelAnalysis(text: string): ModelAnalysis | undefined {
  const raw = parseExact(text);
  if (raw === undefined || !StoredAnalysis.safeParse(raw).success) return undefined;
  return raw as ModelAnalysis;
}

export interface PerModelOptions {
  /** The analysis's name and version: bump the version whenever its output for the same record can change. */
  name: string;
  version: string;
  /** Options that change the output (e.g. a threshold); part of the key. */
  options?: unknown;
  cache?: ModelResultCache | undefined;
  /** Called for each model whose analysis is computed rather than read back (tests count these). */
  onCompute?: (modelId: number) => void;
}

/**
 * Run a per-model analysis over the audited records, reading back the stored result of every model
 * whose record is unchanged and computing (and storing) the rest; results come in record order. A warm
 * re-audit computes nothing: one store query and one hash per model. Yields to the event loop between
 * computed models, so a bot's gateway and timers run during a long audit.
 */
export async function analyzePerModel(
  records: readonly ModelRecord[],
  options: PerModelOptions,
  compute: (record: ModelRecord) => ModelAnalysis | Promise<ModelAnalysis>,
): Promise<Map<number, ModelAnalysis>> {
  const { cache } = options;
  const keys: string[] = [];
  if (cache) {
    for (const record of records) {
      keys.push(modelResultKey(options.name, options.version, options.options, record));
    }
  }
  const stored = cache ? await cache.getMany(keys) : [];
  const out = new Map<number, ModelAnalysis>();
  for (const [i, record] of records.entries()) {
    const text = stored[i];
    const hit = text === undefined ? undefined : decodeModelAnalysis(text);
    if (hit) {
      out.set(record.id, hit);
      continue;
    }
    await yieldToEventLoop();
    options.onCompute?.(record.id);
    const analysis = await compute(record);
    if (!cache) {
      out.set(record.id, analysis);
      continue;
    }
    const encoded = encodeModelAnalysis(analysis);
    await cache.set(keys[i]!, encoded);
    // The stored form is what a warm run reads back, so cold and warm audits give the same output.
    out.set(record.id, decodeModelAnalysis(encoded) ?? analysis);
  }
  return out;
}
