import type { Dispatcher } from 'undici';
import type { Analyzer } from '../analysis/audit/analyzer.ts';
import { createBiasAnalyzer } from '../analysis/audit/bias-analyzer.ts';
import { createClipAnalyzer } from '../analysis/audit/clip-analyzer.ts';
import { createTextAnalyzer } from '../analysis/audit/text-analyzer.ts';
import { createTrainingAnalyzer } from '../analysis/audit/training-analyzer.ts';
import { colourPart, compositionPart, facesPart } from '../analysis/bias/analysis-parts.ts';
import { createInceptionExtractor } from '../analysis/bias/inception.ts';
import type { Logger } from '../analysis/ports.ts';
import type { AppConfig } from '../config.ts';
import type { StorageBackend } from '../storage/backend.ts';
import { keyvBiasResultCache } from '../storage/bias-result-cache.ts';
import { keyvEmbeddingCache } from '../storage/embedding-cache.ts';
import { keyvModelResultCache } from '../storage/model-result-cache.ts';

export interface AnalyzerDeps {
  config: AppConfig;
  logger: Logger;
  storage: StorageBackend;
  dispatcher: Dispatcher;
  /**
   * Face detection and composition in the bias analysis (default true). Their extractors run
   * synchronously on the main thread (about 0.3–8 s per image, `npm run bench faces`), so the bot turns
   * them off: they would delay interaction acknowledgements by seconds. Colour and distances stay.
   */
  faceAnalysis?: boolean;
}

/** The analyses an audit runs, in metrics.csv column order. */
export function defaultAnalyzers(deps: AnalyzerDeps): Analyzer[] {
  // Per-model text and training results of unchanged records are read back, not recomputed.
  const modelResults = keyvModelResultCache(deps.storage.keyv('model-results'), {
    ttlMs: 30 * 24 * 3_600_000,
  });
  return [
    createTextAnalyzer({ cache: modelResults }),
    createTrainingAnalyzer({ cache: modelResults }),
    createClipAnalyzer({
      modelDir: deps.config.modelsDir,
      variant: deps.config.clipVariant,
      image: { batchSize: deps.config.clipBatchSize },
      textBatchSize: deps.config.clipTextBatchSize,
      dispatcher: deps.dispatcher,
      extraAllowedOrigins: [new URL(deps.config.civitaiBaseUrl).origin],
      cache: keyvEmbeddingCache(deps.storage.keyv('clip-embeddings'), { ttlMs: 30 * 24 * 3_600_000 }),
      logger: deps.logger.child({ component: 'clip' }),
    }),
    // Informational: measures against a reference, never flags. Face models open on the first image.
    createBiasAnalyzer({
      colour: colourPart(),
      ...(deps.faceAnalysis === false
        ? {}
        : {
            faces: facesPart({ logger: deps.logger.child({ component: 'faces' }) }),
            composition: compositionPart(),
          }),
      ...(deps.config.inceptionModel
        ? { inception: createInceptionExtractor(deps.config.inceptionModel) }
        : {}),
      // Warm audits with unchanged inputs read the per-model results back (no bootstrap redone).
      cache: keyvBiasResultCache(deps.storage.keyv('bias-results'), { ttlMs: 30 * 24 * 3_600_000 }),
    }),
  ];
}
