/**
 * Per-model distribution distances on CLIP image embeddings (FID, Ledoit–Wolf shrunk FID, KID,
 * CMMD) against a reference set, with bootstrap intervals, fast enough for a top-50 audit.
 *
 * The formulas are those of `distance.ts` (the tests check agreement to 1e-9 relative), computed
 * from Gram matrices instead of d × d covariances: with n model images, n_ref reference images and
 * d = 512, `distance.ts` needs several d³ eigendecompositions per FID (seconds each), while here
 *   tr (Σ₁Σ₂)^½ = Σ singular values of A₁A₂ᵀ   (Aᵢ = centred rows / √(nᵢ − 1)),
 * an n × n eigenproblem. Every kernel sum is taken once per model; a bootstrap resample of the
 * model's images then costs O(n²) plus one n × n eigendecomposition.
 *
 * The interval is a percentile bootstrap over the model's images with the reference held fixed
 * (how far the number moves with another draw of this model's images). The shrunk FID is computed
 * on at most {@link SHRUNK_CAP} images per side (seeded draw) without an interval: each one needs
 * eigendecompositions of size up to 2·SHRUNK_CAP.
 */
import type { z } from 'zod';
import { gram, type Matrix, matrix, pickRows, sqrtPsd, symmetricEigen } from '../stats/linalg.ts';
import { quantile } from '../stats/quantile.ts';
import { type Random, sampleIndices, seededRandom } from '../stats/random.ts';
import { CMMD_SCALE, CMMD_SIGMA, squaredNorms } from './distance.ts';
import type { DistanceEvidence } from './evidence.ts';

/** Fewest images on either side for any distance (below: "insufficient samples"). */
export const MIN_DISTANCE_N = 10;
/** Bootstrap resamples of the model's images per distance interval (see `npm run bench`). */
export const DISTANCE_RESAMPLES = 200;
/** KID subset pairs (torchmetrics' default count). */
export const KID_SUBSETS = 100;
/** Images per side on which the shrunk FID is computed. */
export const SHRUNK_CAP = 32;
/** The embedding the distances are computed on. */
export const CLIP_FEATURES = 'clip-vit-b32 image';

export type DistanceResult = z.infer<typeof DistanceEvidence>;

/** Kernel sums over the reference set against itself (precomputed for leave-one-out populations). */
export interface RefKernelSums {
  /** Σ over ordered pairs j ≠ l of (yⱼ·yₗ/d + 1)³. */
  polyOffDiagonal: number;
  /** Σ over all ordered pairs (diagonal included) of exp(−‖yⱼ − yₗ‖²/(2σ²)). */
  rbfAll: number;
}

export interface DistanceOptions {
  seed: number;
  /** What the vectors are, for the evidence (default CLIP image embeddings). */
  features?: string;
  resamples?: number;
  minN?: number;
  /** Precomputed reference kernel sums (else computed here, O(n_ref² · d)). */
  refSums?: RefKernelSums;
  /** Precomputed dot products (e.g. blocks of one audit-wide Gram matrix), else computed here. */
  gram?: {
    /** model · modelᵀ, n × n row-major. */
    model: Float64Array;
    /** model · refᵀ, n × n_ref row-major. */
    cross: Float64Array;
    /** yⱼ · yₗ of two reference rows. */
    ref: (j: number, l: number) => number;
  };
  /**
   * Reference statistics taken from population totals minus the model's own rows (leave-one-out),
   * instead of O(n_ref · d) and O(n · n_ref) kernel work per model: the reference mean, Σ‖y‖², and per
   * model image Σ over the reference of the polynomial and RBF kernels.
   */
  refStats?: { mean: Float64Array; sumSq: number; crossP: Float64Array; crossR: Float64Array };
}

const GAMMA = 1 / (2 * CMMD_SIGMA ** 2);

/** Reference kernel sums computed directly in row blocks (no n_ref² matrix held). */
export function refKernelSums(ref: Matrix): RefKernelSums {
  const d = ref.cols;
  const nn = squaredNorms(ref);
  let poly = 0;
  let rbf = 0;
  const BLOCK = 256;
  for (let i0 = 0; i0 < ref.rows; i0 += BLOCK) {
    const i1 = Math.min(ref.rows, i0 + BLOCK);
    const g = gram(matrix(i1 - i0, d, ref.data.subarray(i0 * d, i1 * d)), ref);
    for (let i = i0; i < i1; i++) {
      const row = (i - i0) * ref.rows;
      for (let j = 0; j < ref.rows; j++) {
        const dot = g.data[row + j]!;
        if (i !== j) poly += (dot / d + 1) ** 3;
        rbf += Math.exp(-GAMMA * (nn[i]! + nn[j]! - 2 * dot));
      }
    }
  }
  return { polyOffDiagonal: poly, rbfAll: rbf };
}

function percentileInterval(estimate: number, draws: number[], resamples: number) {
  return {
    estimate,
    low: draws.length ? quantile(draws, 0.025) : estimate,
    high: draws.length ? quantile(draws, 0.975) : estimate,
    level: 0.95,
    resamples,
  };
}

/** Σ √λ of a symmetric PSD matrix (the nuclear norm of its square-root factor). */
function traceSqrt(m: Matrix): number {
  if (m.rows === 0) return 0;
  const { values } = symmetricEigen(m);
  let t = 0;
  for (const v of values) t += Math.sqrt(Math.max(0, v));
  return t;
}

/**
 * Distances of `model` (n × d) against `ref` (n_ref × d), each row one image's embedding.
 * Below {@link MIN_DISTANCE_N} images on either side: `{status: 'insufficient'}`.
 */
export function distanceEvidence(model: Matrix, ref: Matrix, options: DistanceOptions): DistanceResult {
  const minN = options.minN ?? MIN_DISTANCE_N;
  const n = model.rows;
  const m = ref.rows;
  if (n < minN || m < minN) {
    return {
      status: 'insufficient',
      reason: `insufficient samples: ${n} model image(s) and ${m} reference image(s) with CLIP embeddings (need ${minN} each)`,
    };
  }
  const d = model.cols;
  const resamples = options.resamples ?? DISTANCE_RESAMPLES;
  const refSums = options.refSums ?? refKernelSums(ref);
  const n1 = squaredNorms(model);
  const pre = options.refStats;
  const n2 = pre ? new Float64Array(0) : squaredNorms(ref);
  const g11 = options.gram?.model ?? gram(model, model).data;
  const g12 = options.gram?.cross ?? gram(model, ref).data;
  const k11p = new Float64Array(n * n);
  const k11r = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dot = g11[i * n + j]!;
      k11p[i * n + j] = (dot / d + 1) ** 3;
      k11r[i * n + j] = Math.exp(-GAMMA * (n1[i]! + n1[j]! - 2 * dot));
    }
  }
  // Per model image: Σ over the reference of each kernel, and x·μ_ref.
  const crossP = new Float64Array(n);
  const crossR = new Float64Array(n);
  const gMu = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let p = 0;
    let r = 0;
    let s = 0;
    if (pre) {
      for (let j = 0; j < m; j++) s += g12[i * m + j]!;
    } else {
      for (let j = 0; j < m; j++) {
        const dot = g12[i * m + j]!;
        p += (dot / d + 1) ** 3;
        r += Math.exp(-GAMMA * (n1[i]! + n2[j]! - 2 * dot));
        s += dot;
      }
    }
    crossP[i] = pre ? pre.crossP[i]! : p;
    crossR[i] = pre ? pre.crossR[i]! : r;
    gMu[i] = s / m;
  }
  // Reference mean and unbiased covariance trace.
  let mu2 = pre?.mean;
  if (!mu2) {
    mu2 = new Float64Array(d);
    for (let j = 0; j < m; j++) for (let k = 0; k < d; k++) mu2[k]! += ref.data[j * d + k]! / m;
  }
  let mu2sq = 0;
  for (const v of mu2) mu2sq += v * v;
  let sumSq2 = pre?.sumSq ?? 0;
  if (!pre) for (const v of n2) sumSq2 += v;
  const tr2 = (sumSq2 - m * mu2sq) / (m - 1);
  // H = Z Zᵀ with Z_ij = x_i·(y_j − μ_ref)/√(m − 1): carries the reference covariance.
  const h = new Float64Array(n * n);
  {
    const z = new Float64Array(n * m);
    const scale = 1 / Math.sqrt(m - 1);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < m; j++) z[i * m + j] = (g12[i * m + j]! - gMu[i]!) * scale;
    const zz = gram(matrix(n, m, z), matrix(n, m, z)).data;
    h.set(zz);
  }
  const refPoly = refSums.polyOffDiagonal / (m * (m - 1));
  const refRbf = refSums.rbfAll / (m * m);

  /** All four distances for one multiset of model images given as counts (Σ counts = n). */
  const evaluate = (counts: Float64Array): { fid: number; kid: number; cmmd: number } => {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (counts[i]! > 0) idx.push(i);
    let cgc = 0;
    let cPoly = 0;
    let cRbf = 0;
    let diagG = 0;
    let diagP = 0;
    let cgMu = 0;
    let cCrossP = 0;
    let cCrossR = 0;
    const hc = new Float64Array(idx.length);
    let chc = 0;
    for (let a = 0; a < idx.length; a++) {
      const i = idx[a]!;
      const ci = counts[i]!;
      diagG += ci * g11[i * n + i]!;
      diagP += ci * k11p[i * n + i]!;
      cgMu += ci * gMu[i]!;
      cCrossP += ci * crossP[i]!;
      cCrossR += ci * crossR[i]!;
      let hci = 0;
      for (let b = 0; b < idx.length; b++) {
        const j = idx[b]!;
        const w = ci * counts[j]!;
        cgc += w * g11[i * n + j]!;
        cPoly += w * k11p[i * n + j]!;
        cRbf += w * k11r[i * n + j]!;
        hci += h[i * n + j]! * counts[j]!;
      }
      hc[a] = hci;
      chc += ci * hci;
    }
    const mu1sq = cgc / (n * n);
    const mu12 = cgMu / n;
    const tr1 = (diagG - n * mu1sq) / (n - 1);
    const k = idx.length;
    const mm = new Float64Array(k * k);
    for (let a = 0; a < k; a++) {
      const i = idx[a]!;
      for (let b = 0; b < k; b++) {
        const j = idx[b]!;
        const pp = h[i * n + j]! - hc[a]! / n - hc[b]! / n + chc / (n * n);
        mm[a * k + b] = (Math.sqrt(counts[i]! * counts[j]!) * pp) / (n - 1);
      }
    }
    const fid = mu1sq - 2 * mu12 + mu2sq + tr1 + tr2 - 2 * traceSqrt(matrix(k, k, mm));
    const kid = (cPoly - diagP) / (n * (n - 1)) + refPoly - (2 * cCrossP) / (n * m);
    const cmmd = CMMD_SCALE * (cRbf / (n * n) + refRbf - (2 * cCrossR) / (n * m));
    return { fid, kid, cmmd };
  };

  const rng = seededRandom(options.seed);
  const point = evaluate(new Float64Array(n).fill(1));
  const draws = { fid: [] as number[], kid: [] as number[], cmmd: [] as number[] };
  const counts = new Float64Array(n);
  for (let b = 0; b < resamples; b++) {
    counts.fill(0);
    for (let t = 0; t < n; t++) counts[rng.int(n)]! += 1;
    const v = evaluate(counts);
    draws.fid.push(v.fid);
    draws.kid.push(v.kid);
    draws.cmmd.push(v.cmmd);
  }
  const kidSub = kidSubsetsFromGram(model, ref, g11, g12, rng, options.gram?.ref);
  const shrunk = shrunkFid(model, ref, rng);
  const under = Math.min(n, m) <= d;
  return {
    status: 'ok',
    features: options.features ?? CLIP_FEATURES,
    n,
    nRef: m,
    dim: d,
    fid: percentileInterval(point.fid, draws.fid, resamples),
    ...(under
      ? {
          fidNote: `N (${n} model, ${m} reference) is not above the dimension ${d}: the covariances are singular and FID is dominated by estimation noise; compare models only at similar N, or use KID / CMMD`,
        }
      : {}),
    fidShrunk: { estimate: shrunk.value, low: shrunk.value, high: shrunk.value, level: 0.95, resamples: 0 },
    kidMean: kidSub.mean,
    kidStd: kidSub.std,
    kid: percentileInterval(point.kid, draws.kid, resamples),
    cmmd: percentileInterval(point.cmmd, draws.cmmd, resamples),
  };
}

/**
 * KID over subset pairs exactly as `kidSubsets` in distance.ts (same draws for the same RNG
 * state: subset size min(n, n_ref, 1000), {@link KID_SUBSETS} pairs, population std), reading the
 * model-side dot products from the Gram matrices already computed.
 */
function kidSubsetsFromGram(
  model: Matrix,
  ref: Matrix,
  g11: Float64Array,
  g12: Float64Array,
  rng: Random,
  refDot?: (j: number, l: number) => number,
): { mean: number; std: number } {
  const n = model.rows;
  const m = ref.rows;
  const d = model.cols;
  const size = Math.min(1000, n, m);
  const k = (dot: number): number => (dot / d + 1) ** 3;
  const values: number[] = [];
  for (let s = 0; s < KID_SUBSETS; s++) {
    const ia = sampleIndices(n, size, rng);
    const ib = sampleIndices(m, size, rng);
    let gyy: Float64Array;
    if (refDot) {
      gyy = new Float64Array(size * size);
      for (let p = 0; p < size; p++)
        for (let q = 0; q < size; q++) gyy[p * size + q] = refDot(ib[p]!, ib[q]!);
    } else {
      const yb = pickRows(ref, ib);
      gyy = gram(yb, yb).data;
    }
    let xx = 0;
    let yy = 0;
    let xy = 0;
    for (let p = 0; p < size; p++) {
      for (let q = 0; q < size; q++) {
        if (p !== q) {
          xx += k(g11[ia[p]! * n + ia[q]!]!);
          yy += k(gyy[p * size + q]!);
        }
        xy += k(g12[ia[p]! * m + ib[q]!]!);
      }
    }
    values.push((xx + yy) / (size * (size - 1)) - (2 * xy) / (size * size));
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance) };
}

/** Ledoit–Wolf shrinkage (scikit-learn's estimator) from a centred Gram matrix of n rows in p dims. */
function ledoitWolfFromGram(gc: Float64Array, n: number, p: number): { shrinkage: number; mu: number } {
  let tr = 0;
  let fro = 0;
  let betaRaw = 0;
  for (let i = 0; i < n; i++) {
    tr += gc[i * n + i]!;
    betaRaw += gc[i * n + i]! ** 2;
    for (let j = 0; j < n; j++) fro += gc[i * n + j]! ** 2;
  }
  const deltaRaw = fro / (n * n);
  const mu = tr / n / p;
  const traceSum = tr / n;
  const beta = (betaRaw / n - deltaRaw) / (p * n);
  const delta = (deltaRaw - 2 * mu * traceSum + p * mu * mu) / p;
  const b = Math.min(beta, delta);
  return { shrinkage: b === 0 ? 0 : b / delta, mu };
}

/**
 * `fidShrunk` of distance.ts on at most SHRUNK_CAP rows per side, computed in the span W of the
 * centred rows (dimension r ≤ 2·SHRUNK_CAP): there Σᵢ = (1−sᵢ)Sᵢ + sᵢμᵢI restrict to r × r
 * matrices, and on W⊥ both are multiples of I, contributing (d − r)·√(s₁μ₁·s₂μ₂).
 */
export function shrunkFid(model: Matrix, ref: Matrix, rng: Random, cap = SHRUNK_CAP): { value: number } {
  const a = model.rows > cap ? pickRows(model, sampleIndices(model.rows, cap, rng)) : model;
  const b = ref.rows > cap ? pickRows(ref, sampleIndices(ref.rows, cap, rng)) : ref;
  const d = a.cols;
  const centre = (x: Matrix): { xc: Matrix; mean: Float64Array } => {
    const mean = new Float64Array(d);
    for (let i = 0; i < x.rows; i++) for (let k = 0; k < d; k++) mean[k]! += x.data[i * d + k]! / x.rows;
    const xc = new Float64Array(x.rows * d);
    for (let i = 0; i < x.rows; i++)
      for (let k = 0; k < d; k++) xc[i * d + k] = x.data[i * d + k]! - mean[k]!;
    return { xc: matrix(x.rows, d, xc), mean };
  };
  const ca = centre(a);
  const cb = centre(b);
  const lwA = ledoitWolfFromGram(gram(ca.xc, ca.xc).data, a.rows, d);
  const lwB = ledoitWolfFromGram(gram(cb.xc, cb.xc).data, b.rows, d);
  // Orthonormal basis of W from the Gram matrix of the stacked centred rows.
  const stacked = matrix(a.rows + b.rows, d, new Float64Array((a.rows + b.rows) * d));
  stacked.data.set(ca.xc.data, 0);
  stacked.data.set(cb.xc.data, a.rows * d);
  const gs = gram(stacked, stacked);
  const { values, vectors } = symmetricEigen(gs);
  const total = stacked.rows;
  const maxEig = values[values.length - 1] ?? 0;
  const keep: number[] = [];
  for (let k = 0; k < total; k++) if (values[k]! > maxEig * 1e-10) keep.push(k);
  const r = keep.length;
  // U = stackedᵀ V Λ^{-1/2} (d × r); we only need the projected rows Xc·U = (G_rows · V) Λ^{-1/2}.
  const project = (offset: number, rows: number): Matrix => {
    const out = new Float64Array(rows * r);
    for (let i = 0; i < rows; i++) {
      for (let c = 0; c < r; c++) {
        const k = keep[c]!;
        let s = 0;
        for (let t = 0; t < total; t++)
          s += gs.data[(offset + i) * total + t]! * vectors.data[t * total + k]!;
        out[i * r + c] = s / Math.sqrt(values[k]!);
      }
    }
    return matrix(rows, r, out);
  };
  const restricted = (pr: Matrix, n: number, lw: { shrinkage: number; mu: number }): Matrix => {
    const t = new Float64Array(r * r);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < r; p++) {
        const v = pr.data[i * r + p]!;
        for (let q = 0; q < r; q++) t[p * r + q]! += (v * pr.data[i * r + q]!) / n;
      }
    }
    for (let k = 0; k < t.length; k++) t[k]! *= 1 - lw.shrinkage;
    for (let p = 0; p < r; p++) t[p * r + p]! += lw.shrinkage * lw.mu;
    return matrix(r, r, t);
  };
  const s1 = restricted(project(0, a.rows), a.rows, lwA);
  const s2 = restricted(project(a.rows, b.rows), b.rows, lwB);
  const root = sqrtPsd(s1);
  const prod = gram(gram(root, s2), root); // root·s2·root (both symmetric)
  for (let i = 0; i < r; i++) {
    for (let j = i + 1; j < r; j++) {
      const v = (prod.data[i * r + j]! + prod.data[j * r + i]!) / 2;
      prod.data[i * r + j] = v;
      prod.data[j * r + i] = v;
    }
  }
  const outer = (d - r) * Math.sqrt(Math.max(0, lwA.shrinkage * lwA.mu * lwB.shrinkage * lwB.mu));
  let trS1 = 0;
  let trS2 = 0;
  for (let p = 0; p < r; p++) {
    trS1 += s1.data[p * r + p]!;
    trS2 += s2.data[p * r + p]!;
  }
  trS1 += (d - r) * lwA.shrinkage * lwA.mu;
  trS2 += (d - r) * lwB.shrinkage * lwB.mu;
  let meanSq = 0;
  for (let k = 0; k < d; k++) meanSq += (ca.mean[k]! - cb.mean[k]!) ** 2;
  return { value: meanSq + trS1 + trS2 - 2 * (traceSqrt(prod) + outer) };
}

/** Row-stack matrices of one dimension. */
function stack(parts: readonly Matrix[], d: number): Matrix {
  const n = parts.reduce((s, p) => s + p.rows, 0);
  const out = new Float64Array(n * d);
  let offset = 0;
  for (const p of parts) {
    out.set(p.data.subarray(0, p.rows * d), offset * d);
    offset += p.rows;
  }
  return matrix(n, d, out);
}

/** X·Xᵀ for all rows, computing each block once and mirroring it (N² values held). */
function symmetricGram(x: Matrix): Float64Array {
  const n = x.rows;
  const d = x.cols;
  const out = new Float64Array(n * n);
  const BLOCK = 256;
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    const rows = matrix(i1 - i0, d, x.data.subarray(i0 * d, i1 * d));
    const cols = matrix(n - i0, d, x.data.subarray(i0 * d, n * d));
    const g = gram(rows, cols).data;
    const w = n - i0;
    for (let i = i0; i < i1; i++) {
      for (let j = i; j < n; j++) {
        const v = g[(i - i0) * w + (j - i0)]!;
        out[i * n + j] = v;
        out[j * n + i] = v;
      }
    }
  }
  return out;
}

/**
 * Distances of every group (one model's embeddings) against a reference: `'population'` = all
 * other groups' rows (leave-one-out), else a fixed reference matrix. One Gram matrix over all rows
 * (N² values) is computed once and every model's kernel sums are read from it, so the cost is one
 * N² · d product plus O(n²) per bootstrap resample. Groups must share one dimension.
 */
export function groupDistances(
  groups: readonly Matrix[],
  reference: Matrix | 'population',
  options: { seed: number; resamples?: number; minN?: number; features?: string },
): DistanceResult[] {
  const minN = options.minN ?? MIN_DISTANCE_N;
  const dims = groups.filter((g) => g.rows > 0).map((g) => g.cols);
  const d = dims[0] ?? (reference === 'population' ? 0 : reference.cols);
  const fixed = reference === 'population' ? undefined : reference;
  const parts = fixed ? [...groups, fixed] : [...groups];
  const all = stack(
    parts.map((p) => (p.rows === 0 ? matrix(0, d) : p)),
    d,
  );
  const offsets: number[] = [];
  let acc = 0;
  for (const p of parts) {
    offsets.push(acc);
    acc += p.rows;
  }
  const total = all.rows;
  const refCount = (i: number): number => (fixed ? fixed.rows : total - groups[i]!.rows);
  const wanted = groups.map((g, i) => g.rows >= minN && refCount(i) >= minN);
  if (!wanted.some(Boolean) || d === 0) {
    return groups.map((g, i) => distanceEvidence(g, matrix(refCount(i), d), { ...options, minN }));
  }
  const G = symmetricGram(all);
  const nn = new Float64Array(total);
  for (let i = 0; i < total; i++) nn[i] = G[i * total + i]!;
  const poly = (i: number, j: number): number => (G[i * total + j]! / d + 1) ** 3;
  const rbf = (i: number, j: number): number => Math.exp(-GAMMA * (nn[i]! + nn[j]! - 2 * G[i * total + j]!));
  // Kernel sums over a half-open range of rows against itself.
  const blockSums = (start: number, end: number): RefKernelSums => {
    let p = 0;
    let r = 0;
    for (let i = start; i < end; i++) {
      for (let j = start; j < end; j++) {
        if (i !== j) p += poly(i, j);
        r += rbf(i, j);
      }
    }
    return { polyOffDiagonal: p, rbfAll: r };
  };
  const auditedEnd = fixed ? offsets[groups.length]! : total;
  let fixedSums: RefKernelSums | undefined;
  const rowPoly = new Float64Array(total);
  const rowRbf = new Float64Array(total);
  let totalPoly = 0;
  let totalRbf = 0;
  // Population totals: Σ rows and Σ‖row‖², from which each model's own rows are subtracted.
  const colSum = new Float64Array(fixed ? 0 : d);
  let sumNorms = 0;
  if (!fixed) {
    for (let i = 0; i < total; i++) {
      for (let k = 0; k < d; k++) colSum[k]! += all.data[i * d + k]!;
      sumNorms += nn[i]!;
    }
  }
  if (fixed) {
    fixedSums = blockSums(auditedEnd, total);
  } else {
    for (let i = 0; i < total; i++) {
      let p = 0;
      let r = 0;
      for (let j = 0; j < total; j++) {
        if (i !== j) p += poly(i, j);
        r += rbf(i, j);
      }
      rowPoly[i] = p;
      rowRbf[i] = r;
      totalPoly += p;
      totalRbf += r;
    }
  }
  return groups.map((g, gi) => {
    const n = g.rows;
    const start = offsets[gi]!;
    const end = start + n;
    if (!wanted[gi]) return distanceEvidence(g, matrix(refCount(gi), d), { ...options, minN });
    // Reference rows in global indices.
    const refIndex: number[] = [];
    if (fixed) for (let j = auditedEnd; j < total; j++) refIndex.push(j);
    else for (let j = 0; j < total; j++) if (j < start || j >= end) refIndex.push(j);
    const m = refIndex.length;
    const model = new Float64Array(n * n);
    const cross = new Float64Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) model[i * n + j] = G[(start + i) * total + start + j]!;
      for (let j = 0; j < m; j++) cross[i * m + j] = G[(start + i) * total + refIndex[j]!]!;
    }
    let refSums = fixedSums;
    let refStats: DistanceOptions['refStats'];
    if (!fixed) {
      const mean = new Float64Array(d);
      let sumSq = sumNorms;
      for (let k = 0; k < d; k++) {
        let own = 0;
        for (let i = start; i < end; i++) own += all.data[i * d + k]!;
        mean[k] = (colSum[k]! - own) / m;
      }
      const crossP = new Float64Array(n);
      const crossR = new Float64Array(n);
      for (let i = start; i < end; i++) {
        sumSq -= nn[i]!;
        let p = rowPoly[i]!;
        let r = rowRbf[i]!;
        for (let j = start; j < end; j++) {
          if (i !== j) p -= poly(i, j);
          r -= rbf(i, j);
        }
        crossP[i - start] = p;
        crossR[i - start] = r;
      }
      refStats = { mean, sumSq, crossP, crossR };
    }
    if (!refSums) {
      const own = blockSums(start, end);
      let p = 0;
      let r = 0;
      for (let i = start; i < end; i++) {
        p += rowPoly[i]!;
        r += rowRbf[i]!;
      }
      refSums = {
        polyOffDiagonal: totalPoly - 2 * p + own.polyOffDiagonal,
        rbfAll: totalRbf - 2 * r + own.rbfAll,
      };
    }
    const refRows = fixed ?? pickRows(all, refIndex);
    return distanceEvidence(g, refRows, {
      ...options,
      minN,
      refSums,
      ...(refStats ? { refStats } : {}),
      gram: { model, cross, ref: (j, l) => G[refIndex[j]! * total + refIndex[l]!]! },
    });
  });
}
