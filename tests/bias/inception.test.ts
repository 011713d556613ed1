import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encodeModel, FLOAT, floatTensor, randomMatrix, valueInfo } from '../../scripts/make-tiny-models.ts';
import { BIAS_COLUMNS, createBiasAnalyzer } from '../../src/analysis/audit/bias-analyzer.ts';
import { AuditRunOptions } from '../../src/analysis/audit/types.ts';
import { BiasModelEvidence } from '../../src/analysis/bias/evidence.ts';
import {
  createInceptionExtractor,
  INCEPTION_FEATURES,
  INCEPTION_SIZE,
  inceptionTensor,
} from '../../src/analysis/bias/inception.ts';
import type { ModelRecord } from '../../src/analysis/civitai/record.ts';
import { decodeImage } from '../../src/analysis/images/decode.ts';
import type { ImageFeatureRecord, SampleImageRef } from '../../src/analysis/images/features.ts';
import { seededRandom } from '../../src/analysis/stats/random.ts';
import { blankRecord } from '../support/records.ts';

const OUT = 16;
const dir = mkdtempSync(join(tmpdir(), 'loralens-inception-'));
const modelPath = join(dir, 'inception-tiny.onnx');
// A tiny stand-in with the documented contract: x [N,3,299,299] → per-channel mean → 3×16 matrix.
const weights = randomMatrix(seededRandom(11), 3, OUT, 1);
writeFileSync(
  modelPath,
  encodeModel(
    'tiny_inception',
    [
      { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['pooled'] },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['flat'], attrs: { axis: 1 } },
      { op: 'MatMul', inputs: ['flat', 'w'], outputs: ['pool3'] },
    ],
    [floatTensor('w', [3, OUT], weights)],
    [valueInfo('x', FLOAT, ['N', 3, INCEPTION_SIZE, INCEPTION_SIZE])],
    [valueInfo('pool3', FLOAT, ['N', OUT])],
  ),
);

const extractor = createInceptionExtractor(modelPath);
after(() => extractor.close?.());

const imageRef: SampleImageRef = {
  key: '1:1',
  modelId: 1,
  versionId: 1,
  imageId: 1,
  url: 'https://image.civitai.com/x/1.png',
  prompt: null,
  width: null,
  height: null,
};

test('the Inception extractor feeds the clean 299 × 299 resize, 0..1 NCHW, and returns the first output', async () => {
  const bytes = readFileSync(new URL('../fixtures/colour/astronaut-160.png', import.meta.url));
  const image = await decodeImage(bytes);
  assert.ok(image.ok);
  const tensor = inceptionTensor(image);
  assert.equal(tensor.length, 3 * INCEPTION_SIZE * INCEPTION_SIZE);
  assert.ok(tensor.every((v) => v >= 0 && v <= 1));
  const plane = INCEPTION_SIZE * INCEPTION_SIZE;
  const means = [0, 1, 2].map(
    (c) => tensor.subarray(c * plane, (c + 1) * plane).reduce((a, b) => a + b, 0) / plane,
  );
  const expected = Array.from({ length: OUT }, (_, j) =>
    means.reduce((acc, m, c) => acc + m * weights[c * OUT + j]!, 0),
  );
  const got = await extractor.extract(image, imageRef);
  assert.equal(got.length, OUT);
  for (const [j, v] of got.entries()) {
    assert.ok(Math.abs(v - expected[j]!) < 1e-4, `feature ${j}: ${v} vs ${expected[j]}`);
  }
  assert.deepEqual(extractor.schema.parse(got), got);
});

test('its cache version is the model file sha256; a missing file is MODEL_MISSING at once', () => {
  const sha = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
  assert.equal(extractor.version, `inception-1;sha256=${sha}`);
  assert.throws(
    () => createInceptionExtractor(join(dir, 'absent.onnx')),
    (e: { code?: string }) => e.code === 'MODEL_MISSING',
  );
});

const record = (id: number): ModelRecord => blankRecord(id);

test('with an Inception model the bias analysis adds Inception FID / KID per model, next to CLIP', async () => {
  const rng = seededRandom(5);
  const images = new Map<string, ImageFeatureRecord>();
  for (const modelId of [1, 2, 3, 4]) {
    for (let i = 0; i < 30; i++) {
      const r: SampleImageRef = { ...imageRef, key: `${modelId}:${i}`, modelId, imageId: modelId * 100 + i };
      const inception = Array.from(
        { length: OUT },
        (_, k) => rng.normal() + (modelId === 1 && k === 0 ? 10 : 0),
      );
      images.set(r.key, {
        ref: r,
        status: 'ok',
        width: 16,
        height: 16,
        features: { inception },
        failed: {},
        cached: false,
      });
    }
  }
  const context = {
    images: { images, reference: new Map(), stats: { images: 120, decoded: 120, cacheHits: 0, skipped: 0 } },
    previous: new Map(),
  };
  const records = [1, 2, 3, 4].map(record);
  const options = AuditRunOptions.parse({ seed: 3 });
  const analyzer = createBiasAnalyzer({ inception: extractor, distanceResamples: 20 });
  assert.ok(analyzer.imageExtractors?.some((x) => x.name === 'inception'));
  const out = await analyzer.analyze(records, {}, options, context);
  for (const c of ['fid_inception', 'kid_inception_mean', 'kid_inception_std'])
    assert.ok(BIAS_COLUMNS.includes(c as never));
  const fid = (id: number) => out.perModel.get(id)?.metrics.fid_inception as number;
  for (const id of [1, 2, 3, 4]) {
    const e = BiasModelEvidence.parse(out.perModel.get(id)?.evidence);
    assert.equal(e.distanceInception?.status, 'ok');
    if (e.distanceInception?.status === 'ok') assert.equal(e.distanceInception.features, INCEPTION_FEATURES);
    assert.equal(e.distance.status, 'not-measured', 'no CLIP embeddings in this pass');
    assert.equal(typeof fid(id), 'number');
  }
  assert.ok(fid(1) > 3 * Math.max(fid(2), fid(3), fid(4)), 'the shifted model is the far one');

  // Without an Inception model: no block, empty columns.
  const plain = await createBiasAnalyzer({ distanceResamples: 20 }).analyze(records, {}, options, context);
  const e = BiasModelEvidence.parse(plain.perModel.get(1)?.evidence);
  assert.equal(e.distanceInception, undefined);
  assert.equal(plain.perModel.get(1)?.metrics.fid_inception, null);
});
