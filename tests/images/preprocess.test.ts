import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLIP_TENSOR_LENGTH, clipResizePlan, clipTensor } from '../../src/analysis/images/clip-preprocess.ts';
import { decodeImage } from '../../src/analysis/images/decode.ts';
import { needsShared, SHARED_DIR, skipIfMissing } from '../support/requirements.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

interface RefImage {
  file: string;
  resized: [number, number];
  crop_left_top: [number, number];
  channel_mean: [number, number, number];
  channel_std: [number, number, number];
  samples: Array<[number, number]>;
}
// Reference tensors: Pillow 9.4.0 + numpy 1.24.2 (Debian bookworm) running openai/CLIP's transform;
// provenance in tests/fixtures/images/PROVENANCE.md.
const reference = JSON.parse(
  readFileSync(resolve(repoRoot, 'tests/fixtures/images/clip-preprocess-reference.json'), 'utf8'),
) as { images: RefImage[] };

// One uint8 step after normalisation is 1/255/std ≈ 0.0152; the port is meant to be bit-exact, so the
// tolerance is far below one step (float32 rounding only).
const TOLERANCE = 1e-5;

// Files named '@…' are ours (tests/fixtures/images); the others are real images from ../shared.
const shared = needsShared();
function imagePath(file: string): string {
  return file.startsWith('@')
    ? resolve(repoRoot, 'tests/fixtures/images', file.slice(1))
    : resolve(SHARED_DIR, 'fixtures', 'images', file);
}

describe('CLIP preprocessing golden tensors', () => {
  for (const ref of reference.images) {
    test(`${ref.file}: tensor equals the PIL reference within ${TOLERANCE}`, async (ctx) => {
      if (!ref.file.startsWith('@') && skipIfMissing(ctx, shared)) return;
      const decoded = await decodeImage(readFileSync(imagePath(ref.file)));
      assert.equal(decoded.ok, true);
      if (!decoded.ok) return;
      const plan = clipResizePlan(decoded.width, decoded.height);
      assert.deepEqual([plan.resizedWidth, plan.resizedHeight], ref.resized);
      assert.deepEqual([plan.left, plan.top], ref.crop_left_top);
      const t = clipTensor(decoded);
      assert.equal(t.length, CLIP_TENSOR_LENGTH);
      let maxDiff = 0;
      for (const [index, value] of ref.samples) maxDiff = Math.max(maxDiff, Math.abs(t[index]! - value));
      assert.ok(maxDiff <= TOLERANCE, `max sample difference ${maxDiff}`);
      const plane = 224 * 224;
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let i = 0; i < plane; i++) sum += t[c * plane + i]!;
        assert.ok(
          Math.abs(sum / plane - ref.channel_mean[c]!) <= TOLERANCE,
          `channel ${c} mean ${sum / plane}`,
        );
      }
    });
  }

  test('the resize plan follows torchvision (int truncation) and Python round-half-even crops', () => {
    assert.deepEqual(clipResizePlan(1280, 704), { resizedWidth: 407, resizedHeight: 224, left: 92, top: 0 });
    assert.deepEqual(clipResizePlan(338, 335), { resizedWidth: 226, resizedHeight: 224, left: 1, top: 0 });
    // (225 - 224) / 2 = 0.5 rounds to 0 in Python, not 1.
    assert.deepEqual(clipResizePlan(225, 224).left, 0);
    assert.deepEqual(clipResizePlan(224, 227).top, 2);
  });
});
