import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBiasAnalyzer } from '../../src/analysis/audit/bias-analyzer.ts';
import { AuditRunOptions } from '../../src/analysis/audit/types.ts';
import { compositionPart } from '../../src/analysis/bias/analysis-parts.ts';
import { compareComposition, compositionOfRecord } from '../../src/analysis/bias/composition.ts';
import { BiasModelEvidence } from '../../src/analysis/bias/evidence.ts';
import type { ImageFeatureRecord } from '../../src/analysis/images/features.ts';
import { seededRandom } from '../../src/analysis/stats/random.ts';
import { blankRecord } from '../support/records.ts';

/**
 * `models` × `perModel` images with a face or a salient box each; `reads` counts how often the
 * analysis reads an image's saliency value (once per parse of its composition features).
 */
function compositionImages(models: number, perModel: number) {
  const rng = seededRandom(5);
  const counter = { reads: 0 };
  const images = new Map<string, ImageFeatureRecord>();
  for (let m = 1; m <= models; m++) {
    for (let i = 0; i < perModel; i++) {
      const key = `${m}:${m * 100 + i}`;
      const face = {
        box: { x: 200 + 300 * rng.next(), y: 50 + 100 * rng.next(), w: 120, h: 150 },
        kind: 'photo',
        score: 0.9,
      };
      const saliency = { x: 0.1 + 0.3 * rng.next(), y: 0.2, w: 0.4, h: 0.5, contrast: 2 };
      const features: Record<string, unknown> = {
        faces: { faces: rng.next() < 0.6 ? [face] : [], detectors: ['yunet'] },
      };
      Object.defineProperty(features, 'saliency', {
        enumerable: true,
        get: () => {
          counter.reads += 1;
          return saliency;
        },
      });
      images.set(key, {
        ref: {
          key,
          modelId: m,
          versionId: m * 10,
          imageId: m * 100 + i,
          url: `https://image.civitai.com/x/${key}.jpeg`,
          prompt: null,
          width: 800,
          height: 600,
        },
        status: 'ok',
        width: 800,
        height: 600,
        features,
        failed: {},
        cached: false,
      });
    }
  }
  return { images, counter };
}

test('population reference: each image’s composition features are parsed once per audit, not once per model', async () => {
  const models = 8;
  const perModel = 6;
  const { images, counter } = compositionImages(models, perModel);
  const records = Array.from({ length: models }, (_, i) => blankRecord(i + 1));
  const analyzer = createBiasAnalyzer({ composition: compositionPart() });
  const options = AuditRunOptions.parse({ reference: { kind: 'population' }, seed: 3 });
  const out = await analyzer.analyze(records, {}, options, {
    images: { images, reference: new Map(), stats: { images: 0, decoded: 0, cacheHits: 0, skipped: 0 } },
    previous: new Map(),
  });
  // Before: every model re-parsed all 48 images (own + the 42 others) and the image rows once more.
  assert.equal(counter.reads, models * perModel);
  // The numbers are those of parsing each side afresh.
  const all = [...images.values()];
  for (const id of [1, 5]) {
    const own = all.filter((r) => r.ref.modelId === id);
    const others = all.filter((r) => r.ref.modelId !== id);
    const parse = (rs: ImageFeatureRecord[]) =>
      rs.map((r) => compositionOfRecord(r)).filter((c) => c !== undefined);
    const want = compareComposition(parse(own), parse(others), { seed: 3 });
    const got = BiasModelEvidence.parse(out.perModel.get(id)!.evidence).composition;
    assert.equal(got.status, 'ok');
    assert.deepEqual(got, want);
  }
});
