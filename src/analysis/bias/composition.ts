import { z } from 'zod';
import { AppError, ErrorCode } from '../errors.ts';
import type { ImageFeatureExtractor, ImageFeatureRecord } from '../images/features.ts';
import type { RawImage } from '../images/pil-resample.ts';
import { bootstrapMeanDiffCi, DEFAULT_RESAMPLES } from '../stats/bootstrap.ts';
import { shotTypeTest } from '../stats/contingency.ts';
import { CompositionEvidence, type ShotType } from './evidence.ts';

/**
 * Composition of an image: where the main subject sits and how large it is. The subject is the largest
 * face when one was found (faces extractor, photo or anime), else a cheap saliency estimate from raw
 * pixels; the shot type (close-up / half body / full body / no person) comes from face height only.
 */

// --- saliency ---------------------------------------------------------------------------------------

/** A box normalised to the image (0..1 of width and height), top-left corner and size. */
export const NormalisedBox = z.object({
  x: z.number().min(0).max(1),
  y: z.number().min(0).max(1),
  w: z.number().min(0).max(1),
  h: z.number().min(0).max(1),
});
export type NormalisedBox = z.infer<typeof NormalisedBox>;

export const SaliencyBox = NormalisedBox.extend({
  /** Mean saliency inside the box over the mean outside it (≥ 1; higher = a clearer subject). */
  contrast: z.number().finite(),
});
export type SaliencyBox = z.infer<typeof SaliencyBox>;

/** Long side of the grid the saliency is computed on. */
export const SALIENCY_GRID = 64;
export const SALIENCY_VERSION = `saliency-1;border-contrast-lab-${SALIENCY_GRID}`;

/** The second-smallest of four numbers (what sorting them ascending puts at index 1). */
function secondSmallest(a: number, b: number, c: number, d: number): number {
  const lo1 = Math.min(a, b);
  const hi1 = Math.max(a, b);
  const lo2 = Math.min(c, d);
  const hi2 = Math.max(c, d);
  return lo1 <= lo2 ? Math.min(hi1, lo2) : Math.min(lo1, hi2);
}

/** sRGB 0..255 → CIE L*a*b* (D65). */
function toLab(r: number, g: number, b: number): [number, number, number] {
  const lin = (c: number): number => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const rl = lin(r);
  const gl = lin(g);
  const bl = lin(b);
  const x = (0.4124564 * rl + 0.3575761 * gl + 0.1804375 * bl) / 0.95047;
  const y = 0.2126729 * rl + 0.7151522 * gl + 0.072175 * bl;
  const z = (0.0193339 * rl + 0.119192 * gl + 0.9503041 * bl) / 1.08883;
  const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 / 116) * t + 16 / 116);
  const fx = f(x);
  const fy = f(y);
  const fz = f(z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/**
 * Main-subject box from raw pixels by boundary-prior colour contrast:
 * 1. area-average the RGB image onto a grid of at most 64 cells on the long side, convert to CIE Lab;
 * 2. take each of the four image borders as a separate background model (the four-border background
 *    queries of Yang et al., "Saliency Detection via Graph-Based Manifold Ranking", CVPR 2013; the
 *    boundary prior of Wei et al., "Geodesic Saliency Using Background Priors", ECCV 2012): a cell's
 *    distance to a side is its Lab distance (ΔE, as in Achanta et al., "Frequency-tuned Salient Region
 *    Detection", CVPR 2009) to the nearest cell of that border, and its saliency is the second-smallest
 *    of its four side distances, so a subject cut by one edge still counts and a background that spans
 *    two sides does not. No centre prior: the subject's placement is what composition measures;
 * 3. threshold at twice the mean saliency (Achanta et al.'s adaptive threshold), keep the 8-connected
 *    region with the largest saliency mass, and return its bounding box.
 * null when the image is flat (no cell differs from the borders by ≥ 2.3 ΔE) or smaller than 3×3.
 */
export function saliencyBox(image: RawImage): SaliencyBox | null {
  const { width, height, channels, data } = image;
  if (data.length !== width * height * channels || channels < 1) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'image buffer does not match width × height × channels', {
      details: { length: data.length, width, height, channels },
    });
  }
  if (width < 3 || height < 3) return null;
  const scale = Math.max(width, height) / SALIENCY_GRID;
  const gw = scale > 1 ? Math.max(3, Math.round(width / scale)) : width;
  const gh = scale > 1 ? Math.max(3, Math.round(height / scale)) : height;
  // 1. area average onto the grid (each source pixel adds to exactly one cell).
  const acc = new Float64Array(gw * gh * 3);
  const cnt = new Float64Array(gw * gh);
  const colOf = new Int32Array(width);
  for (let x = 0; x < width; x++) colOf[x] = Math.min(gw - 1, Math.floor((x * gw) / width));
  for (let y = 0; y < height; y++) {
    const row = Math.min(gh - 1, Math.floor((y * gh) / height)) * gw;
    for (let x = 0, o = y * width * channels; x < width; x++, o += channels) {
      const cell = row + colOf[x]!;
      const g = data[o]!;
      acc[cell * 3]! += g;
      acc[cell * 3 + 1]! += channels >= 3 ? data[o + 1]! : g;
      acc[cell * 3 + 2]! += channels >= 3 ? data[o + 2]! : g;
      cnt[cell]! += 1;
    }
  }
  const n = gw * gh;
  const lab = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    const c = cnt[i]!;
    lab.set(toLab(acc[i * 3]! / c, acc[i * 3 + 1]! / c, acc[i * 3 + 2]! / c), i * 3);
  }
  // 2. per side, the Lab distance to the nearest cell of that border; a cell's saliency is its
  // second-smallest side distance: background (sky, ground, walls) touches two or more sides and matches
  // them, a subject may touch one side (a bust cut by the bottom edge) and still differs from the others.
  const sides: number[][] = [
    Array.from({ length: gw }, (_, x) => x),
    Array.from({ length: gw }, (_, x) => (gh - 1) * gw + x),
    Array.from({ length: gh }, (_, y) => y * gw),
    Array.from({ length: gh }, (_, y) => y * gw + gw - 1),
  ];
  const sideDist = sides.map((side) => {
    const dist = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const l = lab[i * 3]!;
      const a = lab[i * 3 + 1]!;
      const b = lab[i * 3 + 2]!;
      let best = Number.POSITIVE_INFINITY;
      for (const j of side) {
        const dl = l - lab[j * 3]!;
        const da = a - lab[j * 3 + 1]!;
        const db = b - lab[j * 3 + 2]!;
        const d = dl * dl + da * da + db * db;
        if (d < best) best = d;
      }
      dist[i] = Math.sqrt(best);
    }
    return dist;
  });
  const saliency = new Float64Array(n);
  let maxRaw = 0;
  const [top, bottom, left, right] = sideDist as [Float64Array, Float64Array, Float64Array, Float64Array];
  for (let i = 0; i < n; i++) {
    // The second-smallest of the four side distances, without sorting a fresh array per cell.
    const second = secondSmallest(top[i]!, bottom[i]!, left[i]!, right[i]!);
    saliency[i] = second;
    if (second > maxRaw) maxRaw = second;
  }
  // Some cell must differ from the borders by a just-noticeable ΔE (≈ 2.3), or nothing stands out.
  if (maxRaw < 2.3) return null;
  // 3. adaptive threshold, largest connected region by saliency mass.
  let total = 0;
  for (let i = 0; i < n; i++) total += saliency[i]!;
  const threshold = (2 * total) / n;
  if (!(threshold > 0)) return null;
  const label = new Int32Array(n).fill(-1);
  let best: { mass: number; x0: number; y0: number; x1: number; y1: number } | null = null;
  const stack: number[] = [];
  for (let start = 0; start < n; start++) {
    if (label[start] !== -1 || saliency[start]! < threshold) continue;
    const region = { mass: 0, x0: gw, y0: gh, x1: -1, y1: -1 };
    label[start] = start;
    stack.push(start);
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = i % gw;
      const y = (i - x) / gw;
      region.mass += saliency[i]!;
      region.x0 = Math.min(region.x0, x);
      region.x1 = Math.max(region.x1, x);
      region.y0 = Math.min(region.y0, y);
      region.y1 = Math.max(region.y1, y);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= gw || ny >= gh) continue;
          const j = ny * gw + nx;
          if (label[j] === -1 && saliency[j]! >= threshold) {
            label[j] = start;
            stack.push(j);
          }
        }
      }
    }
    if (best === null || region.mass > best.mass) best = region;
  }
  if (best === null) return null;
  let inside = 0;
  let insideN = 0;
  for (let y = best.y0; y <= best.y1; y++) {
    for (let x = best.x0; x <= best.x1; x++) {
      inside += saliency[y * gw + x]!;
      insideN += 1;
    }
  }
  const outsideN = n - insideN;
  const outsideMean = outsideN > 0 ? (total - inside) / outsideN : 0;
  const insideMean = inside / insideN;
  return {
    x: best.x0 / gw,
    y: best.y0 / gh,
    w: (best.x1 - best.x0 + 1) / gw,
    h: (best.y1 - best.y0 + 1) / gh,
    contrast: outsideMean > 0 ? insideMean / outsideMean : insideMean > 0 ? 1e6 : 1,
  };
}

/** The saliency extractor of the image pass (name 'saliency'): the main-subject box, or null. */
export const saliencyExtractor: ImageFeatureExtractor<SaliencyBox | null> = {
  name: 'saliency',
  version: SALIENCY_VERSION,
  schema: SaliencyBox.nullable(),
  extract: (image) => saliencyBox(image),
};

// --- per-image composition features -----------------------------------------------------------------

/**
 * Shot type from face-box height / image height. A detector's face box spans about brow to chin, ~0.8 of
 * the head; an adult is ~7.5 heads tall (the 7½–8-head canon of figure drawing; anime figures run ~5–7).
 * Film grammar's shot scale (Bordwell & Thompson, *Film Art*, "framing: shot distance") names the frames:
 * - close-up (head, or head and shoulders: ≤ ~2.7 heads in frame): face ≥ 0.8 / 2.7 ≈ 0.30 of the height;
 * - half body / medium shot (waist or hips up: ~3–6.5 heads): face in [0.12, 0.30);
 * - full body / long shot (the whole ~7.5-head figure with some margin): face < 0.8 / 6.5 ≈ 0.12;
 * - no person: no face found (a saliency subject alone does not make a person).
 * Anime heads are relatively larger, so anime shots read slightly "closer" than the same framing in a photo.
 */
export const SHOT_THRESHOLDS = { closeup: 0.3, half: 0.12 } as const;

export function shotType(faceHeightFraction: number | null): ShotType {
  if (faceHeightFraction === null) return 'none';
  if (faceHeightFraction >= SHOT_THRESHOLDS.closeup) return 'closeup';
  if (faceHeightFraction >= SHOT_THRESHOLDS.half) return 'half';
  return 'full';
}

/** Intersections of the rule-of-thirds grid, in normalised coordinates. */
const THIRDS: readonly [number, number][] = [
  [1 / 3, 1 / 3],
  [2 / 3, 1 / 3],
  [1 / 3, 2 / 3],
  [2 / 3, 2 / 3],
];
/** Largest possible distance to the nearest intersection (from a corner): √2 / 3. */
const THIRDS_MAX = Math.SQRT2 / 3;

/**
 * Distance from a normalised point to the nearest rule-of-thirds intersection, divided by its largest
 * possible value (√2/3, reached at the corners): 0 on an intersection, ≈ 0.5 at the image centre, 1 in a corner.
 */
export function thirdsDistance(cx: number, cy: number): number {
  const d = Math.min(...THIRDS.map(([tx, ty]) => Math.hypot(cx - tx, cy - ty)));
  return d / THIRDS_MAX;
}

export const CompositionFeatures = z.object({
  source: z.enum(['face', 'saliency', 'none']),
  /** Subject box normalised to the image; null when source is 'none'. */
  subject: NormalisedBox.nullable(),
  centre: z.object({ x: z.number(), y: z.number() }).nullable(),
  areaFraction: z.number().nullable(),
  /** See {@link thirdsDistance}. */
  thirdsDistance: z.number().nullable(),
  /** Largest face height / image height; null without a face. */
  faceHeightFraction: z.number().nullable(),
  faceKind: z.enum(['photo', 'anime']).nullable(),
  shot: z.enum(['closeup', 'half', 'full', 'none']),
});
export type CompositionFeatures = z.infer<typeof CompositionFeatures>;

/** A face box in image pixels (the faces extractor's FaceBox). */
export interface PixelBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

function normalise(box: PixelBox, size: { width: number; height: number }): NormalisedBox {
  const x0 = clamp01(box.x / size.width);
  const y0 = clamp01(box.y / size.height);
  const x1 = clamp01((box.x + box.w) / size.width);
  const y1 = clamp01((box.y + box.h) / size.height);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/**
 * Composition of one image: the subject is the largest face (by clipped area) when there is one, else the
 * saliency box, else none. Shot type from the largest face's height (see {@link SHOT_THRESHOLDS}).
 * Throws INPUT_INVALID for a non-positive image size.
 */
export function compositionFeatures(
  size: { width: number; height: number },
  faces: readonly { box: PixelBox; kind: 'photo' | 'anime' }[],
  saliency: SaliencyBox | null,
): CompositionFeatures {
  if (!(size.width > 0 && size.height > 0)) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'image size must be positive', { details: { ...size } });
  }
  let largest: { box: NormalisedBox; kind: 'photo' | 'anime' } | null = null;
  for (const f of faces) {
    const box = normalise(f.box, size);
    if (box.w * box.h <= 0) continue;
    if (largest === null || box.w * box.h > largest.box.w * largest.box.h) largest = { box, kind: f.kind };
  }
  const subject =
    largest?.box ?? (saliency === null ? null : NormalisedBox.parse(normaliseSaliency(saliency)));
  const source = largest !== null ? 'face' : subject !== null ? 'saliency' : 'none';
  const centre = subject === null ? null : { x: subject.x + subject.w / 2, y: subject.y + subject.h / 2 };
  const faceHeightFraction = largest === null ? null : largest.box.h;
  return {
    source,
    subject,
    centre,
    areaFraction: subject === null ? null : subject.w * subject.h,
    thirdsDistance: centre === null ? null : thirdsDistance(centre.x, centre.y),
    faceHeightFraction,
    faceKind: largest?.kind ?? null,
    shot: shotType(faceHeightFraction),
  };
}

function normaliseSaliency(s: SaliencyBox): NormalisedBox {
  const x0 = clamp01(s.x);
  const y0 = clamp01(s.y);
  return { x: x0, y: y0, w: clamp01(s.x + s.w) - x0, h: clamp01(s.y + s.h) - y0 };
}

/** What composition reads from the `faces` extractor's value (h2's FaceResult: boxes in pixels and kinds). */
const FacesFeature = z.object({
  faces: z.array(
    z.object({
      box: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }),
      kind: z.enum(['photo', 'anime']),
    }),
  ),
});

/**
 * Composition of one image-pass record from its `faces` and `saliency` features. undefined when the
 * record is not ok or has no valid `faces` value (the faces extractor did not run or failed: the shot
 * type would be unknown, not "no person"); a missing saliency value counts as no saliency box.
 */
export function compositionOfRecord(
  record: ImageFeatureRecord,
  names: { faces: string; saliency: string } = { faces: 'faces', saliency: saliencyExtractor.name },
): CompositionFeatures | undefined {
  if (record.status !== 'ok') return undefined;
  const faces = FacesFeature.safeParse(record.features[names.faces]);
  if (!faces.success) return undefined;
  const saliency = SaliencyBox.safeParse(record.features[names.saliency]);
  return compositionFeatures(
    { width: record.width, height: record.height },
    faces.data.faces,
    saliency.success ? saliency.data : null,
  );
}

// --- model vs reference -----------------------------------------------------------------------------

/** The `composition` block of the bias evidence (src/analysis/bias/evidence.ts). */
export type CompositionEvidenceData = z.infer<typeof CompositionEvidence>;

const SHOTS: readonly ShotType[] = ['closeup', 'half', 'full', 'none'];

function shotCounts(features: readonly CompositionFeatures[]): Record<ShotType, number> {
  const counts: Record<ShotType, number> = { closeup: 0, half: 0, full: 0, none: 0 };
  for (const f of features) counts[f.shot] += 1;
  return counts;
}

const meanOf = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0) / values.length;

export interface CompareCompositionOptions {
  seed: number;
  /** Bootstrap (and Monte-Carlo) resamples; default 2000. */
  resamples?: number;
  /** Fewer images (or subjects) than this on either side → 'insufficient'. Default 3. */
  minImages?: number;
}

/**
 * A model's composition against its reference: shot-type counts with {@link shotTypeTest}, mean subject
 * centre difference (dx, dy: positive = right / lower) with seeded percentile bootstrap intervals, and
 * mean thirds distance and subject area. `{ status: 'insufficient' }` with a sentence when either side
 * has fewer than `minImages` images, or fewer than `minImages` images with a subject (face or saliency).
 * Throws INPUT_INVALID for bad options (seed, resamples < 1000, minImages < 1).
 */
export function compareComposition(
  model: readonly CompositionFeatures[],
  reference: readonly CompositionFeatures[],
  options: CompareCompositionOptions,
): CompositionEvidenceData {
  const minImages = options.minImages ?? 3;
  if (!Number.isSafeInteger(minImages) || minImages < 1) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'minImages must be a positive integer', {
      details: { minImages },
    });
  }
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  if (model.length < minImages || reference.length < minImages) {
    return {
      status: 'insufficient',
      reason: `insufficient images: ${model.length} model and ${reference.length} reference images (need ${minImages} each)`,
    };
  }
  const withSubject = (fs: readonly CompositionFeatures[]) =>
    fs.filter(
      (
        f,
      ): f is CompositionFeatures & {
        centre: { x: number; y: number };
        areaFraction: number;
        thirdsDistance: number;
      } => f.centre !== null,
    );
  const m = withSubject(model);
  const r = withSubject(reference);
  if (m.length < minImages || r.length < minImages) {
    return {
      status: 'insufficient',
      reason: `insufficient subjects: ${m.length} of ${model.length} model and ${r.length} of ${reference.length} reference images have a face or salient subject (need ${minImages} each)`,
    };
  }
  const shots = shotCounts(model);
  const refShots = shotCounts(reference);
  const shotTest = shotTypeTest(shots, refShots, { seed: options.seed, resamples });
  const boot = { resamples, level: 0.95 };
  const dx = bootstrapMeanDiffCi(
    m.map((f) => f.centre.x),
    r.map((f) => f.centre.x),
    { ...boot, seed: options.seed },
  );
  const dy = bootstrapMeanDiffCi(
    m.map((f) => f.centre.y),
    r.map((f) => f.centre.y),
    { ...boot, seed: options.seed + 1 },
  );
  const evidence: CompositionEvidenceData = {
    status: 'ok',
    n: model.length,
    nRef: reference.length,
    shots: Object.fromEntries(SHOTS.map((s) => [s, shots[s]])) as Record<ShotType, number>,
    refShots: Object.fromEntries(SHOTS.map((s) => [s, refShots[s]])) as Record<ShotType, number>,
    shotTest,
    placement: { dx, dy },
    thirdsDistance: meanOf(m.map((f) => f.thirdsDistance)),
    refThirdsDistance: meanOf(r.map((f) => f.thirdsDistance)),
    areaFraction: meanOf(m.map((f) => f.areaFraction)),
    refAreaFraction: meanOf(r.map((f) => f.areaFraction)),
  };
  return CompositionEvidence.parse(evidence);
}
