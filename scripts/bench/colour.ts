/**
 * Colour bench (`npm run bench colour`): per-image colour statistics on real images — sharp's raw
 * buffer read in one typed-array pass (`colourFeatures`) vs a naive per-pixel JavaScript loop that builds
 * an {r, g, b} object and an {h, s, v} object per pixel and reduces over arrays of them. Same images, same
 * formulas (the naive loop's outputs are checked equal), min / median / max of 3 runs. The naive loop runs
 * on the first ~1 MP of images only (it is slow and allocates ~2 objects per pixel); rates compare per MP.
 * Images: the real SD generations in ../shared/fixtures/images (the colour test fixtures otherwise),
 * plus scikit-image's sample photos when Debian's python3-skimage is installed.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { type ColourFeatures, colourFeatures, HUE_BINS } from '../../src/analysis/bias/colour.ts';
import type { RawImage } from '../../src/analysis/images/pil-resample.ts';
import type { BenchSection } from './types.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';

function imagePaths(): { paths: string[]; source: string } {
  const sharedDir = resolve(repoRoot, '..', 'shared', 'fixtures', 'images');
  const fixtureDir = join(repoRoot, 'tests', 'fixtures', 'colour');
  const dir = existsSync(sharedDir) ? sharedDir : fixtureDir;
  const paths = readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => join(dir, f));
  const photos = ['astronaut.png', 'coffee.png', 'chelsea.png']
    .map((f) => join(SKIMAGE, f))
    .filter(existsSync);
  return {
    paths: [...paths, ...photos],
    source: `${dir === sharedDir ? '../shared/fixtures/images' : 'tests/fixtures/colour'} (${paths.length})${photos.length > 0 ? ` + scikit-image photos (${photos.length})` : ''}`,
  };
}

async function decode(path: string): Promise<RawImage> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

interface Rgb {
  r: number;
  g: number;
  b: number;
}
interface Hsv {
  h: number;
  bin: number;
  s: number;
  v: number;
  chromatic: boolean;
}

/** The naive version: one object per pixel per colour space, array methods for every statistic. */
function naiveColourFeatures(image: RawImage): ColourFeatures {
  const rgbs: Rgb[] = [];
  for (let i = 0; i < image.width * image.height; i++) {
    const o = i * image.channels;
    rgbs.push({ r: image.data[o]!, g: image.data[o + 1]!, b: image.data[o + 2]! });
  }
  const hsvs: Hsv[] = rgbs.map(({ r, g, b }) => {
    const max = Math.max(r, g, b);
    const d = max - Math.min(r, g, b);
    const s = d === 0 ? 0 : d / max;
    let bin = 0;
    if (d > 0) {
      if (r === max) bin = (HUE_BINS + Math.floor((6 * (g - b)) / d)) % HUE_BINS;
      else if (g === max) bin = 12 + Math.floor((6 * (b - r)) / d);
      else bin = 24 + Math.floor((6 * (r - g)) / d);
    }
    return { h: bin * 10, bin, s, v: max / 255, chromatic: d > 0 && 10 * d >= max && 10 * max >= 255 };
  });
  const n = hsvs.length;
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  const sd = (xs: number[]) => {
    const m = mean(xs);
    return Math.sqrt(Math.max(0, mean(xs.map((x) => x * x)) - m * m));
  };
  const chromatic = hsvs.filter((p) => p.chromatic);
  const weight = chromatic.reduce((a, p) => a + p.s, 0);
  const sums = new Array<number>(HUE_BINS).fill(0);
  for (const p of chromatic) sums[p.bin]! += p.s;
  const hue = sums.map((v) => (weight > 0 ? v / weight : 0));
  const warm = chromatic.filter((p) => p.h >= 330 || p.h < 90).length;
  const cool = chromatic.filter((p) => p.h >= 150 && p.h < 270).length;
  const rg = rgbs.map((p) => p.r - p.g);
  const yb = rgbs.map((p) => 0.5 * (p.r + p.g) - p.b);
  return {
    hue,
    hueWeight: weight / n,
    satMean: mean(hsvs.map((p) => p.s)),
    satStd: sd(hsvs.map((p) => p.s)),
    valMean: mean(hsvs.map((p) => p.v)),
    valStd: sd(hsvs.map((p) => p.v)),
    colourfulness: Math.hypot(sd(rg), sd(yb)) + 0.3 * Math.hypot(mean(rg), mean(yb)),
    warmCoolRatio: cool > 0 ? warm / cool : null,
    warmShare: warm / n,
    coolShare: cool / n,
  };
}

function maxRelDiff(a: ColourFeatures, b: ColourFeatures): number {
  const pairs: Array<[number, number]> = [
    ...a.hue.map((v, i) => [v, b.hue[i]!] as [number, number]),
    [a.hueWeight, b.hueWeight],
    [a.satMean, b.satMean],
    [a.satStd, b.satStd],
    [a.valMean, b.valMean],
    [a.valStd, b.valStd],
    [a.colourfulness, b.colourfulness],
    [a.warmShare, b.warmShare],
    [a.coolShare, b.coolShare],
    [a.warmCoolRatio ?? 0, b.warmCoolRatio ?? 0],
  ];
  let worst = (a.warmCoolRatio === null) === (b.warmCoolRatio === null) ? 0 : Number.POSITIVE_INFINITY;
  for (const [x, y] of pairs)
    worst = Math.max(worst, Math.abs(x - y) / Math.max(1e-12, Math.abs(x), Math.abs(y)));
  return worst;
}

async function timed<T>(fn: () => Promise<T> | T, runs = 3): Promise<{ times: number[]; value: T }> {
  const times: number[] = [];
  let value!: T;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    value = await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((x, y) => x - y);
  return { times, value };
}

export async function run(): Promise<BenchSection> {
  const { paths, source } = imagePaths();
  const decoded = await Promise.all(paths.map(decode));
  const megapixels = decoded.reduce((s, im) => s + im.width * im.height, 0) / 1e6;
  const n = decoded.length;
  // The naive loop allocates two objects per pixel: it runs on the first images up to ~1 MP only, and
  // rates are compared per megapixel.
  const subset: RawImage[] = [];
  for (let mp = 0, i = 0; i < decoded.length && mp < 1; i++) {
    subset.push(decoded[i]!);
    mp += (decoded[i]!.width * decoded[i]!.height) / 1e6;
  }
  const subsetMp = subset.reduce((s, im) => s + im.width * im.height, 0) / 1e6;
  const stages: Array<[string, number, number, () => Promise<unknown> | unknown]> = [
    ['sharp decode → raw RGB', n, megapixels, async () => Promise.all(paths.map(decode))],
    ['colourFeatures (one typed-array pass)', n, megapixels, () => decoded.map(colourFeatures)],
    ['colourFeatures on the naive subset', subset.length, subsetMp, () => subset.map(colourFeatures)],
    ['naive per-pixel objects (subset)', subset.length, subsetMp, () => subset.map(naiveColourFeatures)],
    [
      'decode + colourFeatures',
      n,
      megapixels,
      async () => (await Promise.all(paths.map(decode))).map(colourFeatures),
    ],
  ];
  const rows: BenchSection['rows'] = [];
  const results = new Map<string, { times: number[]; value: unknown }>();
  for (const [name, , , fn] of stages) results.set(name, await timed(fn));
  const fast = results.get('colourFeatures on the naive subset')!;
  const naive = results.get('naive per-pixel objects (subset)')!;
  const naiveMpS = subsetMp / naive.times[1]!;
  const fastValues = fast.value as ColourFeatures[];
  const naiveValues = naive.value as ColourFeatures[];
  const diff = Math.max(...fastValues.map((f, i) => maxRelDiff(f, naiveValues[i]!)));
  for (const [name, count, mp] of stages) {
    const { times } = results.get(name)!;
    const median = times[1]!;
    rows.push({
      stage: name,
      images: count,
      MP: Number(mp.toFixed(2)),
      'images/s (median)': Number((count / median).toFixed(1)),
      'MP/s (median)': Number((mp / median).toFixed(2)),
      's min': Number(times[0]!.toFixed(3)),
      's median': Number(median.toFixed(3)),
      's max': Number(times[2]!.toFixed(3)),
      'MP/s vs naive': Number((mp / median / naiveMpS).toFixed(1)),
    });
  }
  if (!(diff <= 1e-9))
    throw new Error(`colour bench: naive and single-pass outputs differ (max relative ${diff})`);
  return {
    name: `colour statistics: ${n} real images, ${megapixels.toFixed(1)} MP`,
    rows,
    notes: [
      `images: ${source}`,
      `naive and single-pass outputs agree on the ${subset.length} subset images (max relative difference ${diff.toExponential(1)})`,
      'single-threaded JavaScript; sharp decodes on its own thread pool (all images in flight at once)',
    ],
  };
}
