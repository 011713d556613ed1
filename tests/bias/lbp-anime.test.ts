import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import {
  ANIME_CASCADE_FILE,
  ANIME_CASCADE_SHA256,
  createAnimeFaceDetector,
} from '../../src/analysis/bias/faces/anime.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import type { RawImage } from '../../src/analysis/images/pil-resample.ts';
import { needsShared, sharedPath } from '../support/requirements.ts';

const MODELS = fileURLToPath(new URL('../../assets/models/', import.meta.url));

async function rgb(file: string, resize?: number): Promise<RawImage> {
  let pipeline = sharp(file).removeAlpha();
  if (resize !== undefined) pipeline = pipeline.resize(resize, resize, { kernel: 'cubic' });
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

function iou(a: { x: number; y: number; w: number; h: number }, b: typeof a): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  const inter = w > 0 && h > 0 ? w * h : 0;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

describe('anime-face detector', () => {
  it('ships the pinned cascade in assets/models with its licence', () => {
    const bytes = readFileSync(join(MODELS, ANIME_CASCADE_FILE));
    assert.equal(bytes.length, 246945);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), ANIME_CASCADE_SHA256);
    assert.match(
      readFileSync(join(MODELS, 'LICENSE-face-lbpcascade-animeface.txt'), 'utf8'),
      /MIT License[\s\S]*nagadomi/,
    );
  });

  it('finds nothing on a flat grey image', async () => {
    const detector = await createAnimeFaceDetector(MODELS);
    const flat: RawImage = {
      data: new Uint8Array(200 * 150 * 3).fill(128),
      width: 200,
      height: 150,
      channels: 3,
    };
    assert.deepEqual(detector.detect(flat), []);
  });

  it('a missing model folder is MODEL_MISSING, a file that is no cascade is MODEL_INVALID', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'loralens-anime-'));
    await assert.rejects(createAnimeFaceDetector(empty), (e: unknown) => hasCode(e, 'MODEL_MISSING'));
    writeFileSync(
      join(empty, ANIME_CASCADE_FILE),
      '<opencv_storage><cascade><featureType>HAAR</featureType></cascade></opencv_storage>',
    );
    await assert.rejects(createAnimeFaceDetector(empty), (e: unknown) => hasCode(e, 'MODEL_INVALID'));
  });

  describe('on real SD anime images', needsShared(), () => {
    // OpenCV 4.6 boxes from tests/fixtures/lbp/reference.json (same pipeline: grey, equalizeHist, 1.1 / 5 / 24).
    it('sdwcnet-2: the one face OpenCV finds, as an {x, y, w, h} box', async () => {
      const detector = await createAnimeFaceDetector(MODELS);
      const boxes = detector.detect(await rgb(sharedPath('fixtures/images/sdwcnet-2.png')));
      assert.deepEqual(boxes, [{ x: 89, y: 87, w: 331, h: 331 }]);
    });

    it('an image larger than maxSide is scanned shrunk and its boxes scaled back', async () => {
      const detector = await createAnimeFaceDetector(MODELS, { maxSide: 512 });
      const big = await rgb(sharedPath('fixtures/images/sdwcnet-2.png'), 1024);
      const boxes = detector.detect(big);
      assert.equal(boxes.length, 1);
      const expected = { x: 178, y: 174, w: 662, h: 662 };
      assert.ok(iou(boxes[0]!, expected) >= 0.8, JSON.stringify(boxes));
    });

    it('a photo (statue bust) gives no anime face', async () => {
      const detector = await createAnimeFaceDetector(MODELS);
      assert.deepEqual(detector.detect(await rgb(sharedPath('fixtures/images/comfyex-1.png'))), []);
    });
  });
});
