import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { ensureTinyClipModels } from '../../scripts/make-tiny-models.ts';
import {
  type ClipRunInfo,
  type ClipScorerOptions,
  createClipScorer,
} from '../../src/analysis/clip/scorer.ts';
import { CLIP_TENSOR_LENGTH } from '../../src/analysis/images/clip-preprocess.ts';

const VOCAB = fileURLToPath(new URL('../../assets/models/bpe_simple_vocab_16e6.txt.gz', import.meta.url));

function tensors(n: number): Float32Array[] {
  return Array.from({ length: n }, (_, k) => {
    const t = new Float32Array(CLIP_TENSOR_LENGTH);
    for (let i = 0; i < t.length; i++) t[i] = Math.sin(i * 0.001 + k);
    return t;
  });
}

/** setImmediate ticks the event loop completes while `work` is pending (a blocked loop completes ~none). */
async function ticksDuring(work: () => Promise<unknown>): Promise<number> {
  let ticks = 0;
  let done = false;
  const spin = (): void => {
    if (done) return;
    ticks++;
    setImmediate(spin);
  };
  setImmediate(spin);
  await work();
  done = true;
  return ticks;
}

async function withScorer<T>(
  extra: Partial<ClipScorerOptions>,
  fn: (s: Awaited<ReturnType<typeof createClipScorer>>, runs: ClipRunInfo[]) => Promise<T>,
): Promise<T> {
  const { dir } = await ensureTinyClipModels();
  const runs: ClipRunInfo[] = [];
  const s = await createClipScorer({
    modelDir: dir,
    vocabPath: VOCAB,
    intraOpThreads: 1,
    onRun: (r) => runs.push(r),
    ...extra,
  });
  try {
    return await fn(s, runs);
  } finally {
    await s.dispose();
  }
}

describe('CLIP inference runs off the main thread', () => {
  test('session.run of both towers executes in worker threads, not on the main thread', async () => {
    await withScorer({ batchSize: 4 }, async (s, runs) => {
      await s.embedImages(tensors(5));
      await s.embedTexts(['a photo of a cat', 'a dog']);
      assert.deepEqual([...new Set(runs.map((r) => r.tower))].sort(), ['text', 'vision']);
      for (const r of runs) assert.notEqual(r.threadId, threadId, `${r.tower} ran on the main thread`);
      // Each tower has its own worker.
      const vision = new Set(runs.filter((r) => r.tower === 'vision').map((r) => r.threadId));
      const text = new Set(runs.filter((r) => r.tower === 'text').map((r) => r.threadId));
      assert.equal(vision.size, 1);
      assert.equal(text.size, 1);
      assert.notDeepEqual([...vision], [...text]);
    });
  });

  test('the event loop keeps turning during a batch in a worker, and stands still on the main thread', async () => {
    const batch = tensors(96);
    const inWorker = await withScorer({ batchSize: 96 }, (s) => ticksDuring(() => s.embedImages(batch)));
    const onMain = await withScorer({ batchSize: 96, sessionThread: 'main' }, async (s, runs) => {
      const ticks = await ticksDuring(() => s.embedImages(batch));
      assert.equal(runs[0]?.threadId, threadId);
      return ticks;
    });
    // On the main thread the one run blocks the loop from start to end: a couple of ticks around
    // it at most. In a worker the loop turns while the batch is computed and its buffers move.
    assert.ok(onMain <= 3, `main-thread run: ${onMain} ticks`);
    assert.ok(inWorker > onMain + 10, `worker run: ${inWorker} ticks vs ${onMain} on the main thread`);
  });

  test('the caller’s tensors stay usable: only the fresh batch buffer moves to the worker', async () => {
    await withScorer({ batchSize: 2 }, async (s) => {
      const input = tensors(2);
      const [a] = await s.embedImages(input);
      assert.equal(input[0]!.length, CLIP_TENSOR_LENGTH, 'the caller’s tensor was detached');
      const [b] = await s.embedImages(input);
      assert.deepEqual(a, b);
    });
  });
});
