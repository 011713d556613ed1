import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { z } from 'zod';
import type { SampleImageRef } from '../../src/analysis/images/features.ts';
import {
  type BatchedImageFeatureExtractor,
  type PassExtractor,
  runImagePass,
} from '../../src/analysis/images/pass.ts';
import type { ImageFetcher } from '../../src/analysis/images/types.ts';
import { loopCounter } from '../support/event-loop.ts';

// The pass reads file:// images itself; a remote fetch would be a test bug.
const noFetcher: ImageFetcher = {
  requestUrl: (url) => url,
  fetch: () => {
    throw new Error('no network in this test');
  },
};

test('the image pass runs each synchronous extractor step in its own event-loop iteration', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loralens-pass-loop-'));
  const refs: SampleImageRef[] = [];
  for (let i = 0; i < 5; i++) {
    const path = join(dir, `${i}.png`);
    const png = await sharp({
      create: { width: 64 + i, height: 48, channels: 3, background: { r: 40 * i, g: 90, b: 200 } },
    })
      .png()
      .toBuffer();
    writeFileSync(path, png);
    refs.push({
      key: `ref:${i}`,
      modelId: null,
      versionId: null,
      imageId: null,
      url: pathToFileURL(path).href,
      prompt: null,
      width: null,
      height: null,
    });
  }
  const counter = loopCounter();
  const steps: Array<{ step: string; key: string; turn: number }> = [];
  const syncStep =
    (name: string): PassExtractor['extract'] =>
    (_image, ref) => {
      steps.push({ step: name, key: ref.key, turn: counter.now() });
      return 1;
    };
  const batched: BatchedImageFeatureExtractor<number, number> = {
    name: 'batched',
    version: '1',
    schema: z.number(),
    extract: () => 0,
    batch: {
      size: 2,
      prepare(_image, ref) {
        steps.push({ step: 'prepare', key: ref.key, turn: counter.now() });
        return 1;
      },
      run: async (inputs) => inputs.map(() => 2),
    },
  };
  try {
    const result = await runImagePass(
      {
        fetcher: noFetcher,
        concurrency: 4,
        extractors: [
          { name: 'colour-like', version: '1', schema: z.number(), extract: syncStep('colour-like') },
          batched,
          { name: 'saliency-like', version: '1', schema: z.number(), extract: syncStep('saliency-like') },
        ],
      },
      refs,
    );
    assert.equal(result.stats.decoded, 5);
  } finally {
    counter.stop();
  }
  // 5 images × 3 synchronous steps, each in an iteration of its own (before: all of an image's steps,
  // and those of the images decoded at the same time, ran back to back in one iteration).
  assert.equal(steps.length, 15);
  const turns = steps.map((s) => s.turn);
  assert.equal(new Set(turns).size, turns.length, `steps sharing an iteration: ${JSON.stringify(steps)}`);
});
