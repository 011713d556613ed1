/**
 * `tsx scripts/measure-faces.ts [--json out.json]`: detection counts of every candidate face detector
 * on real photos (python3-skimage's data: astronaut, camera and face-free photos; the 200 LFW crops of
 * lfw_subset.npy) and on ../shared/fixtures/images (real SD generations, photo / anime / other), against
 * the hand counts in tests/fixtures/faces/ground-truth.json. Prints the table that docs/faces.md records.
 *
 * Matching is by count per image (no ground-truth boxes): TP = min(found, truth), FP = found − TP,
 * FN = truth − TP. The LFW crops (25×25 grey) are centred on a 75×75 grey canvas and upscaled ×4.
 */
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAnimeFaceDetector } from '../src/analysis/bias/faces/anime.ts';
import {
  createMediapipeDetector,
  createUltrafaceDetector,
  createYunetDetector,
  type FaceDetector,
} from '../src/analysis/bias/faces/detectors.ts';
import { detectFaces, detectPhotoFaces, openPhotoFaceModels } from '../src/analysis/bias/faces/index.ts';
import { iou } from '../src/analysis/bias/faces/nms.ts';
import { imageToTensor } from '../src/analysis/bias/faces/resample.ts';
import { FACE_MODEL_FILES } from '../src/analysis/bias/faces/session.ts';
import type { Detection } from '../src/analysis/bias/faces/types.ts';
import { decodeImage } from '../src/analysis/images/decode.ts';
import type { RawImage } from '../src/analysis/images/pil-resample.ts';

export const SHARED = fileURLToPath(new URL('../../shared/', import.meta.url));
export const SKIMAGE_DATA = '/usr/lib/python3/dist-packages/skimage/data/';
const GROUND_TRUTH = fileURLToPath(new URL('../tests/fixtures/faces/ground-truth.json', import.meta.url));

/** Where each product file name lives in ../shared/models (all candidates, used or not). */
export const SHARED_FACE_MODELS: Record<string, string> = {
  [FACE_MODEL_FILES.yunet]: 'face-yunet/yunet_n_dynamic.onnx',
  [FACE_MODEL_FILES.ultrafaceRfb320]: 'face-ultralight/version-RFB-320.onnx',
  [FACE_MODEL_FILES.ultrafaceSlim320]: 'face-ultralight/version-slim-320.onnx',
  [FACE_MODEL_FILES.ultrafaceRfb640]: 'face-ultralight/version-RFB-640.onnx',
  [FACE_MODEL_FILES.mediapipeShort]: 'face-mediapipe/face_detection_short_range.onnx',
  [FACE_MODEL_FILES.mediapipeFull]: 'face-mediapipe/face_detection_full_range.onnx',
  [FACE_MODEL_FILES.facemesh]: 'face-mediapipe/face_landmark.onnx',
  [FACE_MODEL_FILES.peppa68]: 'face-landmarks/slim_160_latest.onnx',
  'lbpcascade_animeface.xml': 'anime-face/lbpcascade_animeface.xml',
};

/** A temp folder linking every candidate model from ../shared/models under its product file name. */
export async function candidateModelDir(): Promise<string> {
  const dir = join(tmpdir(), `loralens-face-candidates-${process.pid}`);
  await mkdir(dir, { recursive: true });
  for (const [name, rel] of Object.entries(SHARED_FACE_MODELS)) {
    await symlink(join(SHARED, 'models', rel), join(dir, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  return dir;
}

export interface Sample {
  group: string;
  name: string;
  truth: number;
  image: RawImage;
}

async function decodeFile(path: string): Promise<RawImage> {
  const d = await decodeImage(new Uint8Array(await readFile(path)));
  if (!d.ok) throw new Error(`${path}: ${d.detail}`);
  return d;
}

/** skimage's lfw_subset.npy: float64 (200, 25, 25), C order. */
async function lfwCrops(): Promise<Float64Array[]> {
  const buf = await readFile(join(SKIMAGE_DATA, 'lfw_subset.npy'));
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString('latin1');
  if (!header.includes("'<f8'") || !header.includes('(200, 25, 25)'))
    throw new Error(`unexpected npy ${header}`);
  const data = new Float64Array(
    buf.buffer.slice(buf.byteOffset + 10 + headerLen, buf.byteOffset + buf.length),
  );
  return Array.from({ length: 200 }, (_, i) => data.subarray(i * 625, (i + 1) * 625));
}

function lfwImage(crop: Float64Array): RawImage {
  // Centre the 25×25 crop on a 75×75 grey canvas and upscale ×4 bilinearly (nearest-neighbour blocks
  // defeat every detector): 300×300 RGB.
  const grey = new Uint8Array(625 * 3);
  for (let k = 0; k < 625; k++) grey.fill(Math.round(crop[k]! * 255), k * 3, k * 3 + 3);
  const S = 300;
  const t = imageToTensor(
    { data: grey, width: 25, height: 25, channels: 3 },
    {
      rect: { x: -25, y: -25, w: 75, h: 75 },
      outW: S,
      outH: S,
      order: 'rgb',
      scale: 1,
      offset: 0,
      fill: 128,
    },
  );
  const data = new Uint8Array(S * S * 3);
  for (let p = 0; p < S * S; p++) for (let c = 0; c < 3; c++) data[p * 3 + c] = Math.round(t[c * S * S + p]!);
  return { data, width: S, height: S, channels: 3 };
}

export async function loadSamples(options: { lfw?: boolean } = {}): Promise<Sample[]> {
  const truth = JSON.parse(await readFile(GROUND_TRUTH, 'utf8')) as {
    skimage: Record<string, number>;
    fixtures: Record<string, number>;
  };
  const samples: Sample[] = [];
  for (const [name, n] of Object.entries(truth.skimage)) {
    samples.push({
      group: 'photo (skimage)',
      name,
      truth: n,
      image: await decodeFile(join(SKIMAGE_DATA, name)),
    });
  }
  if (options.lfw ?? true) {
    const crops = await lfwCrops();
    crops.forEach((c, i) => {
      samples.push({
        group: 'photo (LFW crops)',
        name: `lfw-${i}`,
        truth: i < 100 ? 1 : 0,
        image: lfwImage(c),
      });
    });
  }
  const index = (await readFile(join(SHARED, 'fixtures/images/index.jsonl'), 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { file: string; kind: string });
  for (const { file, kind } of index) {
    samples.push({
      group: `SD ${kind}`,
      name: file,
      truth: truth.fixtures[file] ?? 0,
      image: await decodeFile(join(SHARED, 'fixtures/images', file)),
    });
  }
  return samples;
}

/** Detections of `b` that overlap no detection of `a` (IoU < 0.3) are added to `a`. */
export function union(a: readonly Detection[], b: readonly Detection[]): Detection[] {
  return [...a, ...b.filter((d) => a.every((k) => iou(k.box, d.box) < 0.3))];
}

interface Row {
  detector: string;
  group: string;
  images: number;
  faces: number;
  found: number;
  tp: number;
  fp: number;
  recall: number;
  precision: number;
  imageRecall: number;
  msPerImage: number;
}

function score(detector: string, group: string, samples: Sample[], found: number[], ms: number[]): Row {
  let tp = 0;
  let fp = 0;
  let faces = 0;
  let withFace = 0;
  let hit = 0;
  samples.forEach((s, i) => {
    const f = found[i]!;
    faces += s.truth;
    tp += Math.min(f, s.truth);
    fp += Math.max(0, f - s.truth);
    if (s.truth > 0) {
      withFace += 1;
      if (f > 0) hit += 1;
    }
  });
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    detector,
    group,
    images: samples.length,
    faces,
    found: found.reduce((a, b) => a + b, 0),
    tp,
    fp,
    recall: faces > 0 ? tp / faces : Number.NaN,
    precision: tp + fp > 0 ? tp / (tp + fp) : Number.NaN,
    imageRecall: withFace > 0 ? hit / withFace : Number.NaN,
    msPerImage: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
  };
}

async function main(): Promise<void> {
  const jsonOut = process.argv.includes('--json')
    ? process.argv[process.argv.indexOf('--json') + 1]
    : undefined;
  const dir = await candidateModelDir();
  const samples = await loadSamples();
  const detectors: FaceDetector[] = [
    await createYunetDetector(dir),
    await createYunetDetector(dir, { threshold: 0.8 }),
    await createYunetDetector(dir, { threshold: 0.9 }),
    await createUltrafaceDetector(dir, 'rfb-320'),
    await createUltrafaceDetector(dir, 'slim-320'),
    await createUltrafaceDetector(dir, 'rfb-640'),
    await createMediapipeDetector(dir, 'short'),
    await createMediapipeDetector(dir, 'full'),
  ];
  const names = [
    'yunet@0.6',
    'yunet@0.8',
    'yunet@0.9',
    'ultraface-rfb-320',
    'ultraface-slim-320',
    'ultraface-rfb-640',
    'mediapipe-short',
    'mediapipe-full',
  ];
  const results = new Map<string, { dets: Detection[][]; ms: number[] }>();
  for (const [k, det] of detectors.entries()) {
    const dets: Detection[][] = [];
    const ms: number[] = [];
    for (const s of samples) {
      const t0 = performance.now();
      dets.push(await det.detect(s.image));
      ms.push(performance.now() - t0);
    }
    results.set(names[k]!, { dets, ms });
    await det.close();
  }
  const combine = (a: string, b: string): void => {
    const x = results.get(a)!;
    const y = results.get(b)!;
    results.set(`${a} ∪ ${b}`, {
      dets: x.dets.map((d, i) => union(d, y.dets[i]!)),
      ms: x.ms.map((m, i) => m + y.ms[i]!),
    });
  };
  combine('yunet@0.8', 'mediapipe-full');
  combine('yunet@0.8', 'ultraface-rfb-320');
  combine('yunet@0.8', 'mediapipe-short');
  // The product pipeline (src/analysis/bias/faces/index.ts): MediaPipe additions need FaceMesh's confirmation.
  const product = await openPhotoFaceModels(dir);
  const pdets: Detection[][] = [];
  const pms: number[] = [];
  for (const s of samples) {
    const t0 = performance.now();
    pdets.push((await detectPhotoFaces(s.image, product)).map((f) => f.detection));
    pms.push(performance.now() - t0);
  }
  await product.close();
  results.set('photo pipeline: yunet@0.8 ∪ mediapipe-full (FaceMesh-confirmed)', { dets: pdets, ms: pms });
  // The anime LBP cascade alone, and the whole product: photo pipeline + anime boxes overlapping no photo face.
  const anime = await createAnimeFaceDetector(dir);
  const adets: Detection[][] = [];
  const ams: number[] = [];
  for (const s of samples) {
    const t0 = performance.now();
    adets.push(anime.detect(s.image).map((box) => ({ box, score: 1, keypoints: null })));
    ams.push(performance.now() - t0);
  }
  results.set('lbp-animeface', { dets: adets, ms: ams });
  // The whole product (detectFaces): anime boxes that overlap no photo face and that FaceMesh confirms.
  const all = await openPhotoFaceModels(dir);
  const fdets: Detection[][] = [];
  const fms: number[] = [];
  for (const s of samples) {
    const t0 = performance.now();
    fdets.push(
      (await detectFaces(s.image, all, anime)).faces.map((f) => ({
        box: f.box,
        score: f.score,
        keypoints: null,
      })),
    );
    fms.push(performance.now() - t0);
  }
  await all.close();
  results.set('product: photo pipeline + FaceMesh-confirmed lbp-animeface (with landmarks)', {
    dets: fdets,
    ms: fms,
  });
  const groups = [...new Set(samples.map((s) => s.group))];
  const rows: Row[] = [];
  for (const [name, r] of results) {
    for (const g of groups) {
      const idx = samples.flatMap((s, i) => (s.group === g ? [i] : []));
      rows.push(
        score(
          name,
          g,
          idx.map((i) => samples[i]!),
          idx.map((i) => r.dets[i]!.length),
          idx.map((i) => r.ms[i]!),
        ),
      );
    }
  }
  const f = (v: number, d = 2): string => (Number.isNaN(v) ? '–' : v.toFixed(d));
  console.log(
    '| detector | set | images | faces | found | recall | precision | images with a face found | median ms/image |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.detector} | ${r.group} | ${r.images} | ${r.faces} | ${r.found} | ${f(r.recall)} | ${f(r.precision)} | ${f(r.imageRecall)} | ${f(r.msPerImage, 0)} |`,
    );
  }
  const perImage = samples
    .filter((s) => !s.group.startsWith('photo (LFW'))
    .map((s) => ({
      name: s.name,
      truth: s.truth,
      found: Object.fromEntries([...results].map(([n, r]) => [n, r.dets[samples.indexOf(s)]!.length])),
    }));
  if (jsonOut) await writeFile(jsonOut, `${JSON.stringify({ rows, perImage }, null, 2)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
