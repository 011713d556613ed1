import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { ensureTinyClipModels } from '../../scripts/make-tiny-models.ts';
import {
  type ClipRunInfo,
  type ClipScorer,
  cosine,
  createClipScorer,
  fixedSequenceLength,
  l2Normalize,
  textSequenceLength,
} from '../../src/analysis/clip/scorer.ts';
import { CLIP_EOT, CLIP_SOT } from '../../src/analysis/clip/tokenizer.ts';

const VOCAB = fileURLToPath(new URL('../../assets/models/bpe_simple_vocab_16e6.txt.gz', import.meta.url));

/** The tiny text tower run directly at the full 77 positions: the reference the short windows must equal. */
async function embedAt77(modelPath: string, rows: number[][], mask = false): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const ids = BigInt64Array.from(rows.flat(), (v) => BigInt(v));
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, [rows.length, 77]) };
    if (mask) {
      const m = BigInt64Array.from(
        rows.flatMap((r) => r.map((_, i) => (i <= r.indexOf(CLIP_EOT) ? 1n : 0n))),
        (v) => v,
      );
      feeds.attention_mask = new ort.Tensor('int64', m, [rows.length, 77]);
    }
    const out = (await session.run(feeds)).text_embeds!;
    const data = out.data as Float32Array;
    return rows.map((_, r) => l2Normalize(data.subarray(r * 512, (r + 1) * 512)));
  } finally {
    await session.release();
  }
}

const row = (bpe: number[]): number[] => {
  const ids = [CLIP_SOT, ...bpe, CLIP_EOT];
  while (ids.length < 77) ids.push(0);
  return ids;
};

describe('shorter text windows (run at the longest real length in the batch)', () => {
  const runs: ClipRunInfo[] = [];
  let scorer: ClipScorer;
  let textPath: string;
  before(async () => {
    const tiny = await ensureTinyClipModels();
    textPath = tiny.text;
    scorer = await createClipScorer({
      modelDir: tiny.dir,
      vocabPath: VOCAB,
      textBatchSize: 3,
      intraOpThreads: 1,
      onRun: (r) => runs.push(r),
    });
  });
  after(async () => {
    await scorer.dispose();
  });

  test('the tiny text tower is causal and pools at end-of-text, like CLIP (the property is real)', async () => {
    const base = row([320, 1125, 539, 320, 2368]);
    const afterEot = [...base];
    afterEot[20] = 1234; // a token after the end-of-text position
    const beforeEot = [...base];
    beforeEot[2] = 1234; // a token inside the prompt
    const [a, b, c] = await embedAt77(textPath, [base, afterEot, beforeEot]);
    assert.ok(1 - cosine(a!, b!) < 1e-6, 'a token after end-of-text changed the embedding');
    assert.ok(1 - cosine(a!, c!) > 1e-3, 'a token inside the prompt did not change the embedding');
  });

  test('windows run at their batch’s longest real length, not 77, and equal the 77-token result (≤ 1e-5 cosine)', async () => {
    const texts = [
      'a photo of a cat',
      'word '.repeat(200),
      'masterpiece, best quality, 1girl, solo, long hair, looking at viewer, smile, outdoors, sky',
      '',
      'a dog',
      'portrait of an old man with a beard, oil painting, dramatic lighting',
      'x',
    ];
    runs.length = 0;
    const got = await scorer.embedTexts(texts);
    const textRuns = runs.filter((r) => r.tower === 'text');
    assert.ok(textRuns.length >= 2);
    assert.ok(
      textRuns.some((r) => (r.sequenceLength ?? 77) < 20),
      `sequence lengths ${textRuns.map((r) => r.sequenceLength).join(',')}`,
    );
    for (const r of textRuns) assert.ok((r.sequenceLength ?? 0) <= 77);
    const rows = texts.flatMap((t) => scorer.tokenizer.windows(t).map((w) => w.ids));
    const reference = await embedAt77(textPath, rows);
    const flat = got.flatMap((e) => e.windows);
    assert.equal(flat.length, reference.length);
    for (let i = 0; i < flat.length; i++) {
      assert.ok(
        1 - cosine(flat[i]!, reference[i]!) <= 1e-5,
        `window ${i}: ${1 - cosine(flat[i]!, reference[i]!)}`,
      );
    }
  });

  test('a model that takes attention_mask gets a mask of the shorter length and the same result', async () => {
    const tiny = await ensureTinyClipModels({ attentionMask: true });
    const masked: ClipRunInfo[] = [];
    const s = await createClipScorer({
      modelDir: tiny.dir,
      vocabPath: VOCAB,
      textBatchSize: 4,
      intraOpThreads: 1,
      onRun: (r) => masked.push(r),
    });
    try {
      const rows = [row([320, 1125]), row([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])];
      const got = await s.embedTokenRows(rows);
      assert.deepEqual(
        masked.map((r) => r.sequenceLength),
        [12],
      );
      const reference = await embedAt77(tiny.text, rows, true);
      for (let i = 0; i < rows.length; i++) assert.ok(1 - cosine(got[i]!, reference[i]!) <= 1e-5);
    } finally {
      await s.dispose();
    }
  });

  test('sequence length helpers: up to end-of-text; fixed axes are recognised', () => {
    assert.equal(textSequenceLength(row([5, 6])), 4);
    assert.equal(textSequenceLength(new Array(77).fill(7)), 77);
    assert.equal(fixedSequenceLength(['batch_size', 'sequence_length']), undefined);
    assert.equal(fixedSequenceLength(['batch_size', 77]), 77);
    assert.equal(fixedSequenceLength(undefined), undefined);
  });
});
