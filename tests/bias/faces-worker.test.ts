import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { lazyFaceExtractor } from '../../src/analysis/bias/analysis-parts.ts';
import { decodeImage } from '../../src/analysis/images/decode.ts';
import type { SampleImageRef } from '../../src/analysis/images/features.ts';
import { ticksDuring } from '../support/event-loop.ts';

const ref: SampleImageRef = {
  key: '1:1',
  modelId: 1,
  versionId: 1,
  imageId: 1,
  url: 'https://image.civitai.com/x/astronaut.png',
  prompt: null,
  width: null,
  height: null,
};

async function astronaut() {
  // scikit-image's astronaut photo (public domain), 160 px, committed with the colour fixtures.
  const bytes = readFileSync(new URL('../fixtures/colour/astronaut-160.png', import.meta.url));
  const decoded = await decodeImage(bytes);
  assert.ok(decoded.ok);
  return decoded;
}

describe('faces extractor in a worker thread', () => {
  const inWorker = lazyFaceExtractor({ thread: 'worker' });
  const onMain = lazyFaceExtractor({ thread: 'main' });
  after(async () => {
    await inWorker.close?.();
    await onMain.close?.();
  });

  test('gives exactly what the same models give on the main thread, and leaves the image intact', async () => {
    const image = await astronaut();
    const before = Buffer.from(image.data);
    const a = await inWorker.extract(image, ref);
    const b = await onMain.extract(image, ref);
    assert.deepEqual(a, b);
    assert.ok(a.faces.length >= 1, 'the astronaut has a face');
    assert.ok(Buffer.from(image.data).equals(before), 'the shared decode is copied, not transferred away');
    assert.equal(inWorker.version, onMain.version);
  });

  test('the event loop keeps turning while a detection runs (the cascade and sessions run off-thread)', async () => {
    const image = await astronaut();
    // Warm both (model loading is asynchronous in either mode and would count as turns).
    await inWorker.extract(image, ref);
    await onMain.extract(image, ref);
    const worker = await ticksDuring(Promise.resolve(inWorker.extract(image, ref)));
    const main = await ticksDuring(Promise.resolve(onMain.extract(image, ref)));
    assert.deepEqual(worker.value, main.value);
    assert.ok(
      worker.ticks > 4 * (main.ticks + 1),
      `turns during detection: worker ${worker.ticks}, main thread ${main.ticks}`,
    );
  });

  test('a missing model folder fails each image with MODEL_MISSING, from the worker', async () => {
    const broken = lazyFaceExtractor({ thread: 'worker', modelDir: '/nonexistent/loralens-models' });
    try {
      const image = await astronaut();
      await assert.rejects(
        async () => broken.extract(image, ref),
        (e: { code?: string }) => e.code === 'MODEL_MISSING',
      );
    } finally {
      await broken.close?.();
    }
  });
});
