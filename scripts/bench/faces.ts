/**
 * Face bench: detection images/s of every candidate detector over the same decoded images (the SD
 * fixtures in ../shared/fixtures/images and skimage's photos), min / median / max of 3 runs each, and the
 * product's whole `faces` extractor (detectors + FaceMesh check + Peppa-68 landmarks). One onnxruntime
 * thread per session, as the extractor runs them.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAnimeFaceDetector } from '../../src/analysis/bias/faces/anime.ts';
import {
  createMediapipeDetector,
  createUltrafaceDetector,
  createYunetDetector,
  type FaceDetector,
} from '../../src/analysis/bias/faces/detectors.ts';
import { createFaceExtractor, YUNET_THRESHOLD } from '../../src/analysis/bias/faces/index.ts';
import { type DecodedImage, decodeImage } from '../../src/analysis/images/decode.ts';
import { candidateModelDir, SHARED, SKIMAGE_DATA } from '../measure-faces.ts';
import type { BenchSection } from './types.ts';

async function images(): Promise<DecodedImage[]> {
  const paths: string[] = [];
  const fixtures = join(SHARED, 'fixtures/images');
  if (existsSync(fixtures)) {
    for (const f of (await readdir(fixtures)).sort()) if (f.endsWith('.png')) paths.push(join(fixtures, f));
  }
  for (const f of ['astronaut.png', 'camera.png', 'chelsea.png', 'coffee.png']) {
    if (existsSync(join(SKIMAGE_DATA, f))) paths.push(join(SKIMAGE_DATA, f));
  }
  const out: DecodedImage[] = [];
  for (const p of paths) {
    const d = await decodeImage(new Uint8Array(await readFile(p)));
    if (d.ok) out.push(d);
  }
  return out;
}

async function timeRuns(
  n: number,
  fn: () => Promise<void>,
): Promise<{ min: number; median: number; max: number }> {
  const t: number[] = [];
  for (let r = 0; r < n; r++) {
    const t0 = performance.now();
    await fn();
    t.push((performance.now() - t0) / 1000);
  }
  t.sort((a, b) => a - b);
  return { min: t[0]!, median: t[Math.floor(t.length / 2)]!, max: t[t.length - 1]! };
}

export async function run(): Promise<BenchSection> {
  const imgs = await images();
  const notes: string[] = [];
  const rows: BenchSection['rows'] = [];
  if (imgs.length === 0) {
    return { name: 'faces', rows, notes: ['no images: needs ../shared/fixtures/images or python3-skimage'] };
  }
  const pixels = imgs.reduce((s, i) => s + i.width * i.height, 0);
  notes.push(`${imgs.length} images, ${(pixels / imgs.length / 1e6).toFixed(2)} MP on average; 3 runs each`);
  const row = (name: string, t: { min: number; median: number; max: number }, faces: number) => ({
    detector: name,
    images: imgs.length,
    faces,
    min_s: Number(t.min.toFixed(3)),
    median_s: Number(t.median.toFixed(3)),
    max_s: Number(t.max.toFixed(3)),
    images_per_s: Number((imgs.length / t.median).toFixed(2)),
  });
  if (existsSync(join(SHARED, 'models'))) {
    const dir = await candidateModelDir();
    const detectors: FaceDetector[] = [
      await createYunetDetector(dir, { threshold: YUNET_THRESHOLD }),
      await createUltrafaceDetector(dir, 'rfb-320'),
      await createUltrafaceDetector(dir, 'slim-320'),
      await createUltrafaceDetector(dir, 'rfb-640'),
      await createMediapipeDetector(dir, 'short'),
      await createMediapipeDetector(dir, 'full'),
    ];
    for (const d of detectors) {
      let faces = 0;
      const t = await timeRuns(3, async () => {
        faces = 0;
        for (const i of imgs) faces += (await d.detect(i)).length;
      });
      rows.push(row(d.name, t, faces));
      await d.close();
    }
    const anime = await createAnimeFaceDetector(dir);
    let animeFaces = 0;
    const ta = await timeRuns(3, async () => {
      animeFaces = 0;
      for (const i of imgs) animeFaces += anime.detect(i).length;
    });
    rows.push(row('lbp-animeface (TS LBP cascade)', ta, animeFaces));
  } else {
    notes.push('candidate detectors skipped: ../shared/models is missing (only the product row runs)');
  }
  const extractor = await createFaceExtractor();
  let faces = 0;
  const t = await timeRuns(3, async () => {
    faces = 0;
    for (const i of imgs)
      faces += (
        await extractor.extract(i, {
          key: 'bench',
          modelId: null,
          versionId: null,
          imageId: null,
          url: 'file:///bench',
          prompt: null,
          width: null,
          height: null,
        })
      ).faces.length;
  });
  rows.push(row('product faces extractor (all stages)', t, faces));
  await extractor.close?.();
  notes.push(
    'images/s = images / median run time; candidate rows time detection only (resample + inference + decode + NMS)',
  );
  return { name: 'faces', rows, notes };
}
