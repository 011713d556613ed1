import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureTinyClipModels, tinyVisionModel } from '../../scripts/make-tiny-models.ts';
import { CLIP_DEFAULT_BATCH, CLIP_DEFAULT_TEXT_BATCH } from '../../src/analysis/clip/defaults.ts';
import {
  type ClipRunInfo,
  type ClipScorer,
  cosine,
  createClipScorer,
} from '../../src/analysis/clip/scorer.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import { CLIP_TENSOR_LENGTH } from '../../src/analysis/images/clip-preprocess.ts';
import { seededRandom } from '../../src/analysis/stats/random.ts';

// The CLIP vocabulary ships with the package (assets/models).
const VOCAB = fileURLToPath(new URL('../../assets/models/bpe_simple_vocab_16e6.txt.gz', import.meta.url));

function randomTensors(n: number, seed: number): Float32Array[] {
  const rng = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const t = new Float32Array(CLIP_TENSOR_LENGTH);
    for (let i = 0; i < t.length; i++) t[i] = rng.normal();
    return t;
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('CLIP scorer on tiny models', () => {
  let batched: ClipScorer;
  let single: ClipScorer;
  before(async () => {
    const { dir } = await ensureTinyClipModels();
    batched = await createClipScorer({ modelDir: dir, vocabPath: VOCAB, batchSize: 8, intraOpThreads: 1 });
    single = await createClipScorer({
      modelDir: dir,
      vocabPath: VOCAB,
      batchSize: 1,
      textBatchSize: 1,
      intraOpThreads: 1,
    });
  });
  after(async () => {
    await batched.dispose();
    await single.dispose();
  });

  test('image embeddings are unit length and batch 8 equals batch 1 within 1e-5', async () => {
    const tensors = randomTensors(11, 7);
    const a = await batched.embedImages(tensors);
    const b = await single.embedImages(tensors);
    assert.equal(a.length, 11);
    for (let i = 0; i < 11; i++) {
      assert.equal(a[i]!.length, 512);
      assert.ok(Math.abs(cosine(a[i]!, a[i]!) - 1) < 1e-5);
      assert.ok(maxAbsDiff(a[i]!, b[i]!) < 1e-5, `image ${i}`);
    }
    // Different inputs give different embeddings (the model is not constant).
    assert.ok(cosine(a[0]!, a[1]!) < 0.999);
  });

  test('text embeddings: batching is invariant, long prompts get several windows', async () => {
    const texts = ['a photo of a cat', 'a photo of a dog', 'word '.repeat(200), ''];
    const a = await batched.embedTexts(texts);
    const b = await single.embedTexts(texts);
    assert.deepEqual(
      a.map((t) => t.windows.length),
      [1, 1, 3, 1],
    );
    for (let i = 0; i < texts.length; i++) {
      for (let w = 0; w < a[i]!.windows.length; w++) {
        assert.ok(maxAbsDiff(a[i]!.windows[w]!, b[i]!.windows[w]!) < 1e-5);
      }
    }
    assert.equal(a[2]!.nTokens, 202);
    assert.ok(cosine(a[0]!.windows[0]!, a[1]!.windows[0]!) < 0.9999);
  });

  test('a text model that declares attention_mask is fed one and still embeds', async () => {
    const { dir } = await ensureTinyClipModels({ attentionMask: true });
    const s = await createClipScorer({ modelDir: dir, vocabPath: VOCAB, batchSize: 4, intraOpThreads: 1 });
    try {
      const [e] = await s.embedTexts(['a cat']);
      assert.equal(e!.windows[0]!.length, 512);
    } finally {
      await s.dispose();
    }
  });
});

describe('CLIP scorer set-up errors', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'loralens-scorer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('missing model files give MODEL_MISSING with a sentence naming `npm run models`', async () => {
    await assert.rejects(
      createClipScorer({ modelDir: dir, vocabPath: VOCAB }),
      (e: unknown) => hasCode(e, 'MODEL_MISSING') && e.userMessage.includes('npm run models'),
    );
  });

  test('a model with the wrong input/output names is refused at session creation (MODEL_INVALID)', async () => {
    const tiny = await ensureTinyClipModels();
    await copyFile(tiny.vision, join(dir, 'vision_model.onnx'));
    // A vision graph where the text graph should be: input pixel_values, output image_embeds.
    await writeFile(join(dir, 'text_model.onnx'), tinyVisionModel(1));
    await assert.rejects(
      createClipScorer({ modelDir: dir, vocabPath: VOCAB }),
      (e: unknown) => hasCode(e, 'MODEL_INVALID') && JSON.stringify(e.details).includes('input_ids'),
    );
  });

  test('a corrupt ONNX file is MODEL_INVALID, not a crash', async () => {
    await writeFile(join(dir, 'text_model.onnx'), Buffer.from('not a protobuf'));
    await assert.rejects(createClipScorer({ modelDir: dir, vocabPath: VOCAB }), (e: unknown) =>
      hasCode(e, 'MODEL_INVALID'),
    );
  });

  test('invalid batch size is rejected before any native call', async () => {
    const tiny = await ensureTinyClipModels();
    for (const bad of [{ batchSize: 0 }, { textBatchSize: 0 }, { textBatchSize: 2.5 }]) {
      await assert.rejects(
        createClipScorer({ modelDir: tiny.dir, vocabPath: VOCAB, ...bad }),
        (e: unknown) => hasCode(e, 'INPUT_INVALID'),
        JSON.stringify(bad),
      );
    }
  });

  test('images and prompt windows have their own batch sizes (text defaults to CLIP_DEFAULT_TEXT_BATCH)', async () => {
    const tiny = await ensureTinyClipModels();
    const runs: ClipRunInfo[] = [];
    const s = await createClipScorer({
      modelDir: tiny.dir,
      vocabPath: VOCAB,
      batchSize: 2,
      textBatchSize: 3,
      intraOpThreads: 1,
      onRun: (r) => runs.push(r),
    });
    const d = await createClipScorer({ modelDir: tiny.dir, vocabPath: VOCAB, intraOpThreads: 1 });
    try {
      assert.equal(s.batchSize, 2);
      assert.equal(s.textBatchSize, 3);
      assert.equal(d.batchSize, CLIP_DEFAULT_BATCH);
      assert.equal(d.textBatchSize, CLIP_DEFAULT_TEXT_BATCH);
      await s.embedImages(randomTensors(5, 3));
      await s.embedTexts(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
      const rows = (tower: string) => runs.filter((r) => r.tower === tower).map((r) => r.rows);
      assert.deepEqual(rows('vision'), [2, 2, 1]);
      assert.deepEqual(rows('text'), [3, 3, 1]);
    } finally {
      await Promise.all([s.dispose(), d.dispose()]);
    }
  });
});

describe('CLIP variants', () => {
  test('the quantized variant opens the *_quantized.onnx files and names them when missing', async () => {
    const { dir } = await ensureTinyClipModels();
    const only = await mkdtemp(join(tmpdir(), 'loralens-quantized-'));
    try {
      for (const f of ['vision_model_quantized.onnx', 'text_model_quantized.onnx']) {
        await copyFile(join(dir, f), join(only, f));
      }
      const q = await createClipScorer({
        modelDir: only,
        vocabPath: VOCAB,
        variant: 'quantized',
        intraOpThreads: 1,
      });
      assert.equal(q.variant, 'quantized');
      assert.match(q.modelId, /:quantized$/);
      const [emb] = await q.embedImages(randomTensors(1, 3));
      assert.equal(emb!.length, 512);
      await q.dispose();
      await assert.rejects(
        createClipScorer({ modelDir: only, vocabPath: VOCAB, variant: 'fp32' }),
        (e: unknown) => hasCode(e, 'MODEL_MISSING') && /vision_model\.onnx/.test((e as Error).message),
      );
    } finally {
      await rm(only, { recursive: true, force: true });
    }
  });

  test('embeddings of the two variants never share cache keys (the model id differs)', async () => {
    const { dir } = await ensureTinyClipModels();
    const a = await createClipScorer({ modelDir: dir, vocabPath: VOCAB, intraOpThreads: 1 });
    const b = await createClipScorer({
      modelDir: dir,
      vocabPath: VOCAB,
      variant: 'quantized',
      intraOpThreads: 1,
    });
    assert.notEqual(a.modelId, b.modelId);
    await a.dispose();
    await b.dispose();
  });
});
