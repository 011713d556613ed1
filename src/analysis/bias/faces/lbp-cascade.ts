/**
 * OpenCV LBP cascade classifier (`cv::CascadeClassifier` with a new-style `opencv_storage/cascade` XML,
 * `featureType LBP`), ported to TypeScript so the anime-face cascade runs without OpenCV.
 *
 * What is matched, from OpenCV 4.x `objdetect/src/cascadedetect.{cpp,hpp}`:
 * - scales: factor 1, ×scaleFactor while the rounded window fits the image; float32 scales; kept when
 *   the window lies within [minSize, maxSize];
 * - pyramid: each layer is `round(size / scale)`, resized with `INTER_LINEAR_EXACT` (the bit-exact
 *   fixed-point bilinear of `imgproc/src/resize.cpp`, reproduced here), then a 32-bit integral image;
 * - scan: step 2 below scale 2, else 1; a window rejected by the first stage skips the next position;
 * - LBP code: 3×3 blocks of the feature rect, bit order 128 (top-left) clockwise to 1 (left), bit set
 *   when a block sum ≥ the centre block sum; category c picks `subset[c >> 5] & (1 << (c & 31))`
 *   (set → left leaf);
 * - stage: sum of leaves (double) `< threshold − 1e-5f` rejects;
 * - `groupRectangles(rects, minNeighbors, 0.2)`: `partition` with `SimilarRects`, average of each
 *   class, classes with ≤ minNeighbors members dropped, small rects inside a stronger one dropped.
 */
import { AppError, ErrorCode } from '../../errors.ts';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GrayImage {
  data: Uint8Array;
  width: number;
  height: number;
}

interface WeakTree {
  /** Per internal node: left, right (≤ 0 = leaf −index), feature index. */
  left: Int32Array;
  right: Int32Array;
  feature: Int32Array;
  /** `subsetSize` ints per internal node. */
  subsets: Int32Array;
  /** float32 leaf values. */
  leaves: Float64Array;
}

interface Stage {
  /** float32(stageThreshold) − 1e-5f, as OpenCV stores it. */
  threshold: number;
  trees: WeakTree[];
}

export interface LbpCascade {
  width: number;
  height: number;
  /** Categories per LBP feature (256) and ints per subset ((256 + 31) / 32 = 8). */
  categories: number;
  subsetSize: number;
  stages: Stage[];
  features: Rect[];
  /** The same stages flattened into typed arrays for the scan (built once by {@link parseLbpCascade}). */
  plan: CascadePlan;
}

interface CascadePlan {
  stageWeakEnd: Int32Array;
  stageThreshold: Float64Array;
  weakNodeStart: Int32Array;
  weakLeafStart: Int32Array;
  nodeFeature: Int32Array;
  nodeLeft: Int32Array;
  nodeRight: Int32Array;
  nodeSubsets: Int32Array;
  leaves: Float64Array;
}

function compile(stages: readonly Stage[], subsetSize: number): CascadePlan {
  const trees = stages.flatMap((s) => s.trees);
  const nodes = trees.reduce((n, t) => n + t.feature.length, 0);
  const plan: CascadePlan = {
    stageWeakEnd: new Int32Array(stages.length),
    stageThreshold: Float64Array.from(stages, (s) => s.threshold),
    weakNodeStart: new Int32Array(trees.length),
    weakLeafStart: new Int32Array(trees.length),
    nodeFeature: new Int32Array(nodes),
    nodeLeft: new Int32Array(nodes),
    nodeRight: new Int32Array(nodes),
    nodeSubsets: new Int32Array(nodes * subsetSize),
    leaves: new Float64Array(nodes + trees.length),
  };
  let weak = 0;
  let node = 0;
  let leaf = 0;
  stages.forEach((stage, si) => {
    for (const tree of stage.trees) {
      plan.weakNodeStart[weak] = node;
      plan.weakLeafStart[weak] = leaf;
      plan.nodeFeature.set(tree.feature, node);
      plan.nodeLeft.set(tree.left, node);
      plan.nodeRight.set(tree.right, node);
      plan.nodeSubsets.set(tree.subsets, node * subsetSize);
      plan.leaves.set(tree.leaves, leaf);
      node += tree.feature.length;
      leaf += tree.leaves.length;
      weak += 1;
    }
    plan.stageWeakEnd[si] = weak;
  });
  return plan;
}

// --- a small XML reader for opencv_storage (elements, text, comments, declarations) -----------------

interface XmlNode {
  name: string;
  children: XmlNode[];
  text: string;
}

function invalid(message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError(ErrorCode.MODEL_INVALID, `LBP cascade: ${message}`, { details });
}

function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '#root', children: [], text: '' };
  const stack: XmlNode[] = [root];
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const top = stack[stack.length - 1]!;
    if (lt < 0) {
      top.text += xml.slice(i);
      break;
    }
    if (lt > i) top.text += xml.slice(i, lt);
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt + 4);
      if (end < 0) throw invalid('unterminated comment', { at: lt });
      i = end + 3;
    } else if (xml.startsWith('<?', lt) || xml.startsWith('<!', lt)) {
      const end = xml.indexOf('>', lt);
      if (end < 0) throw invalid('unterminated declaration', { at: lt });
      i = end + 1;
    } else {
      const end = xml.indexOf('>', lt);
      if (end < 0) throw invalid('unterminated tag', { at: lt });
      const inner = xml.slice(lt + 1, end).trim();
      i = end + 1;
      if (inner.startsWith('/')) {
        const name = inner.slice(1).trim();
        if (top.name !== name) throw invalid(`closing </${name}> does not match <${top.name}>`, { at: lt });
        stack.pop();
      } else {
        const selfClosing = inner.endsWith('/');
        const name = (selfClosing ? inner.slice(0, -1) : inner).trim().split(/\s+/)[0] ?? '';
        if (name === '') throw invalid('empty tag name', { at: lt });
        const node: XmlNode = { name, children: [], text: '' };
        top.children.push(node);
        if (!selfClosing) stack.push(node);
      }
    }
  }
  if (stack.length !== 1) throw invalid(`unclosed <${stack[stack.length - 1]!.name}>`);
  return root;
}

function child(node: XmlNode, name: string): XmlNode {
  const found = node.children.find((c) => c.name === name);
  if (found === undefined) throw invalid(`<${node.name}> has no <${name}>`);
  return found;
}

function numbers(node: XmlNode): number[] {
  const parts = node.text.trim().split(/\s+/).filter(Boolean);
  const values = parts.map(Number);
  if (values.some((v) => !Number.isFinite(v))) throw invalid(`<${node.name}> holds a non-number`);
  return values;
}

function integer(node: XmlNode): number {
  const [v] = numbers(node);
  if (v === undefined || !Number.isInteger(v)) throw invalid(`<${node.name}> is not an integer`);
  return v;
}

const THRESHOLD_EPS = Math.fround(1e-5);

/**
 * Parse an OpenCV cascade XML (new format, `featureType LBP`, `stageType BOOST`). Throws MODEL_INVALID
 * for any other format or an inconsistent file (feature index out of range, wrong subset length).
 */
export function parseLbpCascade(xml: string): LbpCascade {
  const doc = parseXml(xml);
  const storage = child(doc, 'opencv_storage');
  const cascade = storage.children.find((c) => c.name !== 'opencv_storage' && c.children.length > 0);
  if (cascade === undefined) throw invalid('no cascade node in <opencv_storage>');
  if (cascade.children.every((c) => c.name !== 'featureType')) {
    throw invalid('old-format (haartraining) cascade or no <featureType>; only new LBP cascades are read');
  }
  const featureType = child(cascade, 'featureType').text.trim().toUpperCase();
  if (featureType !== 'LBP') throw invalid(`featureType ${featureType}, not LBP`);
  const stageType = child(cascade, 'stageType').text.trim().toUpperCase();
  if (stageType !== 'BOOST') throw invalid(`stageType ${stageType}, not BOOST`);
  const width = integer(child(cascade, 'width'));
  const height = integer(child(cascade, 'height'));
  if (width < 3 || height < 3) throw invalid('window smaller than 3×3', { width, height });
  const featureParams = child(cascade, 'featureParams');
  const categories = integer(child(featureParams, 'maxCatCount'));
  if (categories !== 256) throw invalid(`maxCatCount ${categories}; LBP cascades have 256`);
  const subsetSize = (categories + 31) >> 5;

  const features: Rect[] = child(cascade, 'features').children.map((f, index) => {
    const r = numbers(child(f, 'rect'));
    if (r.length !== 4 || r.some((v) => !Number.isInteger(v) || v < 0)) {
      throw invalid(`feature ${index}: rect must be 4 non-negative integers`);
    }
    const [x, y, w, h] = r as [number, number, number, number];
    if (w < 1 || h < 1 || x + 3 * w > width || y + 3 * h > height) {
      throw invalid(`feature ${index}: 3×3 blocks leave the ${width}×${height} window`, { rect: r });
    }
    return { x, y, width: w, height: h };
  });

  const stages: Stage[] = child(cascade, 'stages').children.map((s, si) => {
    const threshold = Math.fround(
      Math.fround(numbers(child(s, 'stageThreshold'))[0] ?? Number.NaN) - THRESHOLD_EPS,
    );
    if (!Number.isFinite(threshold)) throw invalid(`stage ${si}: no threshold`);
    const trees = child(s, 'weakClassifiers').children.map((w, wi): WeakTree => {
      const nodes = numbers(child(w, 'internalNodes'));
      const leafValues = numbers(child(w, 'leafValues')).map(Math.fround);
      const per = 3 + subsetSize;
      if (nodes.length === 0 || nodes.length % per !== 0) {
        throw invalid(
          `stage ${si} weak ${wi}: internalNodes length ${nodes.length} is not a multiple of ${per}`,
        );
      }
      const count = nodes.length / per;
      if (leafValues.length !== count + 1) {
        throw invalid(`stage ${si} weak ${wi}: ${leafValues.length} leaves for ${count} nodes`);
      }
      const tree: WeakTree = {
        left: new Int32Array(count),
        right: new Int32Array(count),
        feature: new Int32Array(count),
        subsets: new Int32Array(count * subsetSize),
        leaves: Float64Array.from(leafValues),
      };
      for (let n = 0; n < count; n++) {
        const o = n * per;
        const [left, right, feature] = [nodes[o]!, nodes[o + 1]!, nodes[o + 2]!];
        for (const link of [left, right]) {
          if (!Number.isInteger(link) || link >= count || -link > count) {
            throw invalid(`stage ${si} weak ${wi}: node link ${link} out of range`);
          }
        }
        if (!Number.isInteger(feature) || feature < 0 || feature >= features.length) {
          throw invalid(`stage ${si} weak ${wi}: feature ${feature} out of range`);
        }
        tree.left[n] = left;
        tree.right[n] = right;
        tree.feature[n] = feature;
        for (let k = 0; k < subsetSize; k++) tree.subsets[n * subsetSize + k] = nodes[o + 3 + k]! | 0;
      }
      return tree;
    });
    if (trees.length === 0) throw invalid(`stage ${si}: no weak classifiers`);
    return { threshold, trees };
  });
  if (stages.length === 0) throw invalid('no stages');
  return { width, height, categories, subsetSize, stages, features, plan: compile(stages, subsetSize) };
}

// --- numerics that must match OpenCV bit for bit ------------------------------------------------------

/** `cvRound`: round half to even (lrint under the default rounding mode). */
export function cvRound(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

interface LinearTaps {
  offset: Int32Array;
  /** Weight of `offset` (of 256; the weight of `offset + 1` is 256 − w0). */
  w0: Int32Array;
}

/** `interpolationLinear::getCoeffs` of OpenCV's bit-exact resize (ufixedpoint16: 8 fractional bits). */
function linearTaps(srcSize: number, dstSize: number): LinearTaps {
  const scale = 1 / (dstSize / srcSize);
  const offset = new Int32Array(dstSize);
  const w0 = new Int32Array(dstSize);
  for (let d = 0; d < dstSize; d++) {
    const fval = scale * (d + 0.5) - 0.5;
    const ival = Math.floor(fval);
    if (ival >= 0 && srcSize > 1 && ival < srcSize - 1) {
      const w1 = cvRound((fval - ival) * 256);
      offset[d] = ival;
      w0[d] = 256 - w1;
    } else {
      offset[d] = ival >= 0 && srcSize > 1 ? srcSize - 1 : 0;
      w0[d] = 256;
    }
  }
  return { offset, w0 };
}

/**
 * `cv::resize(src, dst, Size(w, h), 0, 0, INTER_LINEAR_EXACT)` for one 8-bit channel: horizontal taps
 * in 8.8 fixed point, vertical taps in 8.8, rounded once from 16.16. Same size is a copy.
 */
export function resizeLinearExact(src: GrayImage, width: number, height: number): GrayImage {
  if (width === src.width && height === src.height) {
    return { data: src.data.slice(), width, height };
  }
  const xs = linearTaps(src.width, width);
  const ys = linearTaps(src.height, height);
  const rows = new Map<number, Uint32Array>();
  const hline = (sy: number): Uint32Array => {
    let row = rows.get(sy);
    if (row !== undefined) return row;
    row = new Uint32Array(width);
    const base = sy * src.width;
    for (let x = 0; x < width; x++) {
      const o = xs.offset[x]!;
      const a = xs.w0[x]!;
      row[x] =
        a === 256 ? src.data[base + o]! * 256 : src.data[base + o]! * a + src.data[base + o + 1]! * (256 - a);
    }
    rows.set(sy, row);
    if (rows.size > 4) rows.delete(rows.keys().next().value as number);
    return row;
  };
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const o = ys.offset[y]!;
    const a = ys.w0[y]!;
    const r0 = hline(o);
    const r1 = a === 256 ? r0 : hline(o + 1);
    const b = 256 - a;
    const base = y * width;
    for (let x = 0; x < width; x++) {
      const v = (r0[x]! * a + r1[x]! * b + 32768) >>> 16;
      out[base + x] = Math.min(v, 255);
    }
  }
  return { data: out, width, height };
}

/** `cv::integral(img, sum, CV_32S)`: (w+1)×(h+1), first row and column zero; wraps like int32. */
export function integralImage(img: GrayImage): Int32Array {
  const w1 = img.width + 1;
  const sum = new Int32Array(w1 * (img.height + 1));
  for (let y = 0; y < img.height; y++) {
    let rowSum = 0;
    const src = y * img.width;
    const above = y * w1;
    const here = (y + 1) * w1;
    for (let x = 0; x < img.width; x++) {
      rowSum += img.data[src + x]!;
      sum[here + x + 1] = (sum[above + x + 1]! + rowSum) | 0;
    }
  }
  return sum;
}

/** 16 integral-image offsets (4×4 grid of block corners) per feature, for a layer of row stride `stride`. */
function featureOffsets(features: readonly Rect[], stride: number): Int32Array {
  const ofs = new Int32Array(features.length * 16);
  features.forEach((f, i) => {
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) ofs[i * 16 + r * 4 + c] = (f.y + r * f.height) * stride + f.x + c * f.width;
    }
  });
  return ofs;
}

/** `LBPEvaluator::OptFeature::calc`: the 8-bit LBP code of feature `f` for the window at `p`. */
function lbpCode(sum: Int32Array, ofs: Int32Array, f: number, p: number): number {
  const o = f * 16;
  const p0 = sum[p + ofs[o]!]!;
  const p1 = sum[p + ofs[o + 1]!]!;
  const p2 = sum[p + ofs[o + 2]!]!;
  const p3 = sum[p + ofs[o + 3]!]!;
  const p4 = sum[p + ofs[o + 4]!]!;
  const p5 = sum[p + ofs[o + 5]!]!;
  const p6 = sum[p + ofs[o + 6]!]!;
  const p7 = sum[p + ofs[o + 7]!]!;
  const p8 = sum[p + ofs[o + 8]!]!;
  const p9 = sum[p + ofs[o + 9]!]!;
  const p10 = sum[p + ofs[o + 10]!]!;
  const p11 = sum[p + ofs[o + 11]!]!;
  const p12 = sum[p + ofs[o + 12]!]!;
  const p13 = sum[p + ofs[o + 13]!]!;
  const p14 = sum[p + ofs[o + 14]!]!;
  const p15 = sum[p + ofs[o + 15]!]!;
  // Block sums wrap like OpenCV's int arithmetic on a CV_32S integral image.
  const cval = (p5 - p6 - p9 + p10) | 0;
  return (
    (((p0 - p1 - p4 + p5) | 0) >= cval ? 128 : 0) |
    (((p1 - p2 - p5 + p6) | 0) >= cval ? 64 : 0) |
    (((p2 - p3 - p6 + p7) | 0) >= cval ? 32 : 0) |
    (((p6 - p7 - p10 + p11) | 0) >= cval ? 16 : 0) |
    (((p10 - p11 - p14 + p15) | 0) >= cval ? 8 : 0) |
    (((p9 - p10 - p13 + p14) | 0) >= cval ? 4 : 0) |
    (((p8 - p9 - p12 + p13) | 0) >= cval ? 2 : 0) |
    (((p4 - p5 - p8 + p9) | 0) >= cval ? 1 : 0)
  );
}

/** Run the cascade at integral offset `p`: 1 = accepted, else −(index of the rejecting stage). */
function runAt(plan: CascadePlan, subsetSize: number, sum: Int32Array, ofs: Int32Array, p: number): number {
  const { stageWeakEnd, stageThreshold, weakNodeStart, weakLeafStart, nodeFeature, nodeLeft, nodeRight } =
    plan;
  const { nodeSubsets, leaves } = plan;
  let weak = 0;
  for (let si = 0; si < stageWeakEnd.length; si++) {
    const end = stageWeakEnd[si]!;
    let acc = 0;
    for (; weak < end; weak++) {
      const root = weakNodeStart[weak]!;
      let idx = 0;
      do {
        const node = root + idx;
        const c = lbpCode(sum, ofs, nodeFeature[node]!, p);
        const bit = nodeSubsets[node * subsetSize + (c >> 5)]! & (1 << (c & 31));
        idx = bit !== 0 ? nodeLeft[node]! : nodeRight[node]!;
      } while (idx > 0);
      acc += leaves[weakLeafStart[weak]! - idx]!;
    }
    if (acc < stageThreshold[si]!) return -si;
  }
  return 1;
}

export interface DetectOptions {
  /** Pyramid step (OpenCV default 1.1); must be > 1. */
  scaleFactor?: number;
  /** Neighbours a group needs to be kept (OpenCV default 3); 0 returns the raw windows. */
  minNeighbors?: number;
  minSize?: { width: number; height: number };
  /** Largest window; default the image size. */
  maxSize?: { width: number; height: number };
}

/** The scales OpenCV's `detectMultiScaleNoGrouping` scans (float32 factors). */
export function cascadeScales(
  cascade: Pick<LbpCascade, 'width' | 'height'>,
  image: { width: number; height: number },
  options: DetectOptions = {},
): number[] {
  const scaleFactor = options.scaleFactor ?? 1.1;
  if (!(scaleFactor > 1) || !Number.isFinite(scaleFactor)) {
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `scaleFactor must be a finite number > 1, got ${scaleFactor}`,
    );
  }
  const minSize = options.minSize ?? { width: 0, height: 0 };
  const maxSize =
    options.maxSize === undefined || options.maxSize.width === 0 || options.maxSize.height === 0
      ? { width: image.width, height: image.height }
      : options.maxSize;
  if (image.width < cascade.width || image.height < cascade.height) return [];
  const all: number[] = [];
  for (let factor = 1; ; factor *= scaleFactor) {
    const f = Math.fround(factor);
    if (cvRound(cascade.width * factor) > image.width || cvRound(cascade.height * factor) > image.height)
      break;
    all.push(f);
  }
  const scales: number[] = [];
  for (const f of all) {
    const w = cvRound(Math.fround(cascade.width * f));
    const h = cvRound(Math.fround(cascade.height * f));
    if (w > maxSize.width || h > maxSize.height) break;
    if (w < minSize.width || h < minSize.height) continue;
    scales.push(f);
  }
  if (
    scales.length === 0 &&
    all.length > 0 &&
    minSize.width === maxSize.width &&
    minSize.height === maxSize.height
  ) {
    const f = Math.fround(minSize.width / cascade.width);
    if (f >= 1) scales.push(f);
  }
  return scales;
}

/** Raw accepted windows (before grouping), in image pixels. */
export function detectWindows(cascade: LbpCascade, gray: GrayImage, options: DetectOptions = {}): Rect[] {
  if (gray.data.length !== gray.width * gray.height) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'gray image buffer does not match width × height', {
      details: { length: gray.data.length, width: gray.width, height: gray.height },
    });
  }
  const found: Rect[] = [];
  for (const scale of cascadeScales(cascade, gray, options)) {
    const w = cvRound(Math.fround(gray.width / scale));
    const h = cvRound(Math.fround(gray.height / scale));
    const layer = resizeLinearExact(gray, w, h);
    const sum = integralImage(layer);
    const stride = w + 1;
    const ofs = featureOffsets(cascade.features, stride);
    const step = scale >= 2 ? 1 : 2;
    const winW = cvRound(Math.fround(cascade.width * scale));
    const winH = cvRound(Math.fround(cascade.height * scale));
    const xEnd = Math.max(stride - cascade.width, 0);
    const yEnd = Math.max(h + 1 - cascade.height, 0);
    for (let y = 0; y < yEnd; y += step) {
      for (let x = 0; x < xEnd; x += step) {
        const result = runAt(cascade.plan, cascade.subsetSize, sum, ofs, y * stride + x);
        if (result > 0) {
          found.push({
            x: cvRound(Math.fround(x * scale)),
            y: cvRound(Math.fround(y * scale)),
            width: winW,
            height: winH,
          });
        } else if (result === 0) {
          x += step;
        }
      }
    }
  }
  return found;
}

/** `cv::partition` with OpenCV's union-find (labels in order of first appearance). */
function partition<T>(
  items: readonly T[],
  same: (a: T, b: T) => boolean,
): { labels: number[]; count: number } {
  const n = items.length;
  const parent = new Int32Array(n).fill(-1);
  const rank = new Int32Array(n);
  const findRoot = (i: number): number => {
    let r = i;
    while (parent[r]! >= 0) r = parent[r]!;
    return r;
  };
  for (let i = 0; i < n; i++) {
    let root = findRoot(i);
    for (let j = 0; j < n; j++) {
      if (i === j || !same(items[i]!, items[j]!)) continue;
      const root2 = findRoot(j);
      if (root2 === root) continue;
      if (rank[root]! > rank[root2]!) parent[root2] = root;
      else {
        parent[root] = root2;
        if (rank[root] === rank[root2]) rank[root2]! += 1;
        root = root2;
      }
      for (const start of [j, i]) {
        let k = start;
        let p = parent[k]!;
        while (p >= 0) {
          parent[k] = root;
          k = p;
          p = parent[k]!;
        }
      }
    }
  }
  const labelOfRoot = new Map<number, number>();
  const labels = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const root = findRoot(i);
    let label = labelOfRoot.get(root);
    if (label === undefined) {
      label = labelOfRoot.size;
      labelOfRoot.set(root, label);
    }
    labels[i] = label;
  }
  return { labels, count: labelOfRoot.size };
}

/**
 * `cv::groupRectangles(rects, groupThreshold, eps)`: cluster similar rectangles, average each cluster,
 * keep clusters with more than `groupThreshold` members that are not inside a stronger cluster.
 */
export function groupRectangles(rects: readonly Rect[], groupThreshold: number, eps = 0.2): Rect[] {
  if (groupThreshold <= 0 || rects.length === 0) return rects.map((r) => ({ ...r }));
  const { labels, count } = partition(rects, (r1, r2) => {
    const delta = eps * (Math.min(r1.width, r2.width) + Math.min(r1.height, r2.height)) * 0.5;
    return (
      Math.abs(r1.x - r2.x) <= delta &&
      Math.abs(r1.y - r2.y) <= delta &&
      Math.abs(r1.x + r1.width - r2.x - r2.width) <= delta &&
      Math.abs(r1.y + r1.height - r2.y - r2.height) <= delta
    );
  });
  const acc = Array.from({ length: count }, () => ({ x: 0, y: 0, width: 0, height: 0, n: 0 }));
  rects.forEach((r, i) => {
    const a = acc[labels[i]!]!;
    a.x += r.x;
    a.y += r.y;
    a.width += r.width;
    a.height += r.height;
    a.n += 1;
  });
  const avg = acc.map((a) => {
    const s = Math.fround(1 / a.n);
    const f = (v: number): number => cvRound(Math.fround(Math.fround(v) * s));
    return { x: f(a.x), y: f(a.y), width: f(a.width), height: f(a.height), n: a.n };
  });
  const out: Rect[] = [];
  for (let i = 0; i < count; i++) {
    const r1 = avg[i]!;
    if (r1.n <= groupThreshold) continue;
    let inside = false;
    for (let j = 0; j < count && !inside; j++) {
      const r2 = avg[j]!;
      if (j === i || r2.n <= groupThreshold) continue;
      const dx = cvRound(Math.fround(r2.width * eps));
      const dy = cvRound(Math.fround(r2.height * eps));
      inside =
        r1.x >= r2.x - dx &&
        r1.y >= r2.y - dy &&
        r1.x + r1.width <= r2.x + r2.width + dx &&
        r1.y + r1.height <= r2.y + r2.height + dy &&
        (r2.n > Math.max(3, r1.n) || r1.n < 3);
    }
    if (!inside) out.push({ x: r1.x, y: r1.y, width: r1.width, height: r1.height });
  }
  return out;
}

/** `CascadeClassifier::detectMultiScale` on an 8-bit grey image: windows, then `groupRectangles(…, 0.2)`. */
export function detectMultiScale(cascade: LbpCascade, gray: GrayImage, options: DetectOptions = {}): Rect[] {
  const minNeighbors = options.minNeighbors ?? 3;
  if (!Number.isInteger(minNeighbors) || minNeighbors < 0) {
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `minNeighbors must be a non-negative integer, got ${minNeighbors}`,
    );
  }
  return groupRectangles(detectWindows(cascade, gray, options), minNeighbors, 0.2);
}

/**
 * `cv::cvtColor(…, RGB2GRAY)` for 8-bit as OpenCV 4 computes it: (9798 R + 19235 G + 3735 B + 2¹⁴) >> 15
 * (15-bit coefficients of 0.299 / 0.587 / 0.114). Extra channels (alpha) are ignored.
 */
export function rgbToGray(image: {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}): GrayImage {
  const { width, height, channels } = image;
  const n = width * height;
  if (image.data.length !== n * channels || channels < 1) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'image buffer does not match width × height × channels', {
      details: { length: image.data.length, width, height, channels },
    });
  }
  if (channels < 3) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = image.data[i * channels]!;
    return { data: out, width, height };
  }
  const out = new Uint8Array(n);
  for (let i = 0, o = 0; i < n; i++, o += channels) {
    out[i] = (image.data[o]! * 9798 + image.data[o + 1]! * 19235 + image.data[o + 2]! * 3735 + 16384) >> 15;
  }
  return { data: out, width, height };
}

/** `cv::equalizeHist`: the cumulative histogram (from the first non-empty bin) scaled to 0..255 in float32. */
export function equalizeHist(gray: GrayImage): GrayImage {
  const hist = new Int32Array(256);
  for (const v of gray.data) hist[v]! += 1;
  const total = gray.data.length;
  let i = 0;
  while (i < 256 && hist[i] === 0) i++;
  const lut = new Uint8Array(256);
  if (total === 0) return { data: new Uint8Array(0), width: gray.width, height: gray.height };
  if (hist[i] === total) {
    lut.fill(i);
  } else {
    const scale = Math.fround(255 / (total - hist[i]!));
    let sum = 0;
    for (i++; i < 256; i++) {
      sum += hist[i]!;
      const v = cvRound(Math.fround(Math.fround(sum) * scale));
      lut[i] = Math.min(v, 255);
    }
  }
  const out = new Uint8Array(gray.data.length);
  for (let k = 0; k < out.length; k++) out[k] = lut[gray.data[k]!]!;
  return { data: out, width: gray.width, height: gray.height };
}
