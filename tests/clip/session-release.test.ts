import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Agent } from 'undici';
import { ensureTinyClipModels } from '../../scripts/make-tiny-models.ts';
import { createClipAnalyzer } from '../../src/analysis/audit/clip-analyzer.ts';
import { AuditRunOptions } from '../../src/analysis/audit/types.ts';
import { CLIP_TENSOR_LENGTH } from '../../src/analysis/images/clip-preprocess.ts';
import type { BatchedImageFeatureExtractor } from '../../src/analysis/images/pass.ts';

// The CLIP sessions (≈ 0.6 GB with the real weights) are freed when an analysis ends, so the bias
// analysis that follows does not hold them too; concurrent audits share the analyzer, so an embedding
// in flight keeps them open, and a later embedding opens them again.

test('CLIP sessions close when an analysis ends with nothing in flight, and stay open while an embedding runs', async () => {
  const tiny = await ensureTinyClipModels();
  const created: number[] = [];
  const agent = new Agent();
  const analyzer = createClipAnalyzer({
    modelDir: tiny.dir,
    dispatcher: agent,
    extraAllowedOrigins: [],
    onSessionsCreated: () => created.push(created.length + 1),
  });
  const extractor = analyzer.imageExtractors[0] as BatchedImageFeatureExtractor<Float32Array, number[]>;
  const tensor = () => new Float32Array(CLIP_TENSOR_LENGTH).fill(0.1);
  const options = AuditRunOptions.parse({});
  try {
    assert.equal(analyzer.sessionsOpen, false);
    assert.equal(analyzer.sessionsOpened, false);
    // Another audit's embedding in flight while this audit's analysis ends: nothing is released.
    const inFlight = extractor.batch.run([tensor(), tensor()]);
    await analyzer.analyze([], {}, options, undefined);
    const [a, b] = await inFlight;
    assert.equal(a!.length, 512);
    assert.equal(b!.length, 512);
    assert.equal(analyzer.sessionsOpen, true);
    // The last analysis to end, with nothing in flight, releases them.
    await analyzer.analyze([], {}, options, undefined);
    assert.equal(analyzer.sessionsOpen, false);
    assert.equal(analyzer.sessionsOpened, true);
    // A later embedding opens them again, with the same result.
    const [again] = await extractor.batch.run([tensor()]);
    assert.deepEqual(again, a);
    assert.deepEqual(created, [1, 2]);
  } finally {
    await analyzer.close?.();
    await agent.close();
  }
});
