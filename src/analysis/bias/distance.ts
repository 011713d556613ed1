/**
 * Distribution distances between two sets of feature vectors (CLIP image embeddings, or
 * Inception pool features): FID, a Ledoit–Wolf shrunk FID, KID (unbiased MMD² with the cubic
 * polynomial kernel, whole-set and over subsets) and CMMD. Each follows the formula of the code
 * people compare against; the differences that matter are stated where they arise.
 */
import { AppError, ErrorCode } from '../errors.ts';
import {
  columnMeans,
  covariance,
  gram,
  type Matrix,
  matrix,
  multiply,
  pickRows,
  sqrtPsd,
  symmetricEigen,
  trace,
} from '../stats/linalg.ts';
import { type Random, sampleIndices, seededRandom } from '../stats/random.ts';

/** Rows are processed in blocks of this many, so no full n × m kernel matrix is ever held. */
const ROW_BLOCK = 256;

function invalid(message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError(ErrorCode.INPUT_INVALID, message, { userMessage: message, details, userFault: true });
}

/**
 * Check and pack a feature set: at least `minRows` rows, all of one length, finite numbers.
 * Throws INPUT_INVALID naming the set, the row and the problem.
 */
export function featureMatrix(rows: unknown, name: string, minRows = 2): Matrix {
  if (!Array.isArray(rows)) throw invalid(`${name} is not a JSON array of number arrays.`);
  if (rows.length < minRows) {
    throw invalid(`${name} has ${rows.length} row(s); at least ${minRows} are needed.`);
  }
  const first = rows[0];
  if (!Array.isArray(first) || first.length === 0) {
    throw invalid(`${name} row 1 is not a non-empty array of numbers.`);
  }
  const d = first.length;
  const data = new Float64Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (!Array.isArray(row)) throw invalid(`${name} row ${i + 1} is not an array of numbers.`);
    if (row.length !== d) {
      throw invalid(`${name} row ${i + 1} has ${row.length} values, but row 1 has ${d} (ragged rows).`);
    }
    for (let j = 0; j < d; j++) {
      const v = row[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw invalid(`${name} row ${i + 1}, value ${j + 1} is not a finite number.`);
      }
      data[i * d + j] = v;
    }
  }
  return matrix(rows.length, d, data);
}

function sameDim(a: Matrix, b: Matrix): void {
  if (a.cols !== b.cols) {
    throw invalid(`The two sets have different dimensions (${a.cols} and ${b.cols}).`);
  }
}

function squaredDistance(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const t = x[i]! - y[i]!;
    s += t * t;
  }
  return s;
}

/**
 * tr((Σ₁Σ₂)^½) for symmetric PSD Σ₁, Σ₂ as Σ √λᵢ of the symmetric PSD R·Σ₂·R with R = Σ₁^½.
 * R·Σ₂·R is similar to Σ₁Σ₂, so they share eigenvalues; this avoids the complex round-off of a
 * general matrix square root (pytorch-fid takes the real part of scipy's `sqrtm(Σ₁Σ₂)` for that).
 */
function traceSqrtProduct(s1: Matrix, s2: Matrix): number {
  const r = sqrtPsd(s1);
  const m = multiply(multiply(r, s2), r);
  // Symmetrise against round-off before the symmetric eigensolver.
  const n = m.rows;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = (m.data[i * n + j]! + m.data[j * n + i]!) / 2;
      m.data[i * n + j] = v;
      m.data[j * n + i] = v;
    }
  }
  const { values } = symmetricEigen(m);
  let t = 0;
  for (const v of values) t += Math.sqrt(Math.max(0, v));
  return t;
}

function frechet(mu1: Float64Array, s1: Matrix, mu2: Float64Array, s2: Matrix): number {
  return squaredDistance(mu1, mu2) + trace(s1) + trace(s2) - 2 * traceSqrtProduct(s1, s2);
}

/**
 * Fréchet distance between Gaussians fitted to `a` and `b`, the plain pytorch-fid formula:
 * ‖μ₁−μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^½ with unbiased (n − 1) covariances, no shrinkage.
 * With fewer rows than dimensions the covariances are singular and the value is dominated by
 * estimation noise: callers report that (see {@link fidIsUnderdetermined}).
 */
export function fid(a: Matrix, b: Matrix): number {
  sameDim(a, b);
  const mu1 = columnMeans(a);
  const mu2 = columnMeans(b);
  return frechet(mu1, covariance(a, mu1), mu2, covariance(b, mu2));
}

/** True when either set has no more rows than dimensions (singular covariance). */
export function fidIsUnderdetermined(nA: number, nB: number, dim: number): boolean {
  return Math.min(nA, nB) <= dim;
}

/**
 * Ledoit–Wolf shrunk covariance (the estimator of scikit-learn's `ledoit_wolf`: the biased
 * empirical covariance shrunk towards μ·I with the optimal shrinkage), and the shrinkage used.
 */
export function ledoitWolf(x: Matrix, mean = columnMeans(x)): { cov: Matrix; shrinkage: number } {
  const { rows: n, cols: p } = x;
  const xc = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) xc[i * p + j] = x.data[i * p + j]! - mean[j]!;
  }
  const emp = covariance(x, mean);
  // covariance() divides by n − 1; the estimator works on the biased one (divide by n).
  const toBiased = (n - 1) / n;
  for (let k = 0; k < emp.data.length; k++) emp.data[k]! *= toBiased;
  const mu = trace(emp) / p;
  // β̂ = Σ_k ‖x_k x_kᵀ − S‖²_F / n², computed as in scikit-learn from Σ(X²ᵀX²) and Σ(XᵀX)².
  const sq = new Float64Array(n * p);
  for (let k = 0; k < xc.length; k++) sq[k] = xc[k]! * xc[k]!;
  const colSq = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) colSq[j]! += sq[i * p + j]!;
  // Σ_{a,b} (Σ_k x_ka² x_kb²) = Σ_k (Σ_a x_ka²)²
  let betaRaw = 0;
  for (let i = 0; i < n; i++) {
    let rowSum = 0;
    for (let j = 0; j < p; j++) rowSum += sq[i * p + j]!;
    betaRaw += rowSum * rowSum;
  }
  let deltaRaw = 0;
  for (const v of emp.data) deltaRaw += v * v; // Σ (XᵀX/n)²
  let traceSum = 0;
  for (const v of colSq) traceSum += v / n;
  const beta = (betaRaw / n - deltaRaw) / (p * n);
  let delta = deltaRaw - 2 * mu * traceSum + p * mu * mu;
  delta /= p;
  const b = Math.min(beta, delta);
  const shrinkage = b === 0 ? 0 : b / delta;
  const cov = matrix(p, p, Float64Array.from(emp.data));
  for (let k = 0; k < cov.data.length; k++) cov.data[k]! *= 1 - shrinkage;
  for (let j = 0; j < p; j++) cov.data[j * p + j]! += shrinkage * mu;
  return { cov, shrinkage };
}

/**
 * Fréchet distance with Ledoit–Wolf shrunk covariances: usable when N is below the dimension,
 * but not the same number as FID (it is biased towards smaller values); reported under its own
 * name.
 */
export function fidShrunk(a: Matrix, b: Matrix): { value: number; shrinkageA: number; shrinkageB: number } {
  sameDim(a, b);
  const mu1 = columnMeans(a);
  const mu2 = columnMeans(b);
  const la = ledoitWolf(a, mu1);
  const lb = ledoitWolf(b, mu2);
  return { value: frechet(mu1, la.cov, mu2, lb.cov), shrinkageA: la.shrinkage, shrinkageB: lb.shrinkage };
}

/**
 * Σ over all pairs (or all off-diagonal pairs when `excludeDiagonal`, for a set against itself)
 * of kernel(xᵢ·yⱼ, ‖xᵢ‖², ‖yⱼ‖²), in row blocks.
 */
function kernelSum(
  x: Matrix,
  y: Matrix,
  kernel: (dot: number, nx: number, ny: number) => number,
  excludeDiagonal: boolean,
): number {
  const nx = squaredNorms(x);
  const ny = x === y ? nx : squaredNorms(y);
  let total = 0;
  for (let i0 = 0; i0 < x.rows; i0 += ROW_BLOCK) {
    const i1 = Math.min(x.rows, i0 + ROW_BLOCK);
    const block = matrix(i1 - i0, x.cols, x.data.subarray(i0 * x.cols, i1 * x.cols));
    const g = gram(block, y);
    for (let i = i0; i < i1; i++) {
      const row = (i - i0) * y.rows;
      for (let j = 0; j < y.rows; j++) {
        if (excludeDiagonal && i === j) continue;
        total += kernel(g.data[row + j]!, nx[i]!, ny[j]!);
      }
    }
  }
  return total;
}

/** Each row's squared Euclidean norm. */
export function squaredNorms(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += m.data[i * m.cols + j]! ** 2;
    out[i] = s;
  }
  return out;
}

function polynomialKernel(dim: number): (dot: number) => number {
  return (dot) => (dot / dim + 1) ** 3;
}

/**
 * Unbiased MMD² with k(x, y) = (x·y/d + 1)³ over the whole sets (KID without subsets), with each
 * term's own normaliser: m(m−1), n(n−1) and m·n, so unequal sizes are handled exactly.
 */
export function kidFull(a: Matrix, b: Matrix): number {
  sameDim(a, b);
  const k = polynomialKernel(a.cols);
  const m = a.rows;
  const n = b.rows;
  const xx = kernelSum(a, a, k, true) / (m * (m - 1));
  const yy = kernelSum(b, b, k, true) / (n * (n - 1));
  const xy = kernelSum(a, b, k, false) / (m * n);
  return xx + yy - 2 * xy;
}

/**
 * The MMD² of one KID subset pair exactly as torchmetrics' `maximum_mean_discrepancy` computes it
 * (off-diagonal sums over m(m−1), the cross sum over m² — the subsets have equal size m).
 */
function kidSubsetValue(x: Matrix, y: Matrix): number {
  const k = polynomialKernel(x.cols);
  const m = x.rows;
  return (
    (kernelSum(x, x, k, true) + kernelSum(y, y, k, true)) / (m * (m - 1)) -
    (2 * kernelSum(x, y, k, false)) / (m * m)
  );
}

export interface KidSubsetOptions {
  /** Number of subset pairs (torchmetrics default 100). */
  subsets?: number;
  /** Rows per subset; at most min(n_a, n_b) (torchmetrics default 1000, clamped here). */
  subsetSize?: number;
  /** Seed of the subset draws (reproducible). */
  seed?: number;
  /** Explicit subset row indices [a, b] per subset (overrides the draws; used by the tests). */
  indices?: readonly (readonly [readonly number[], readonly number[]])[];
}

/**
 * KID as torchmetrics reports it: the mean and the population standard deviation (`unbiased=
 * False`) of the unbiased MMD² over random subset pairs drawn without replacement.
 */
export function kidSubsets(
  a: Matrix,
  b: Matrix,
  options: KidSubsetOptions = {},
): { mean: number; std: number; subsets: number; subsetSize: number } {
  sameDim(a, b);
  const size = Math.min(options.subsetSize ?? 1000, a.rows, b.rows);
  if (size < 2) throw invalid('KID needs subsets of at least 2 rows.');
  let pairs = options.indices;
  if (!pairs) {
    const rng: Random = seededRandom(options.seed ?? 0);
    const count = options.subsets ?? 100;
    if (!Number.isInteger(count) || count < 1) throw invalid('KID needs at least one subset.');
    pairs = Array.from(
      { length: count },
      () => [sampleIndices(a.rows, size, rng), sampleIndices(b.rows, size, rng)] as const,
    );
  }
  const values = pairs.map(([ia, ib]) => kidSubsetValue(pickRows(a, ia), pickRows(b, ib)));
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance), subsets: values.length, subsetSize: pairs[0]![0].length };
}

/** RBF bandwidth and scale of google-research `cmmd/distance.py`. */
export const CMMD_SIGMA = 10;
export const CMMD_SCALE = 1000;

/**
 * CMMD as google-research `cmmd/distance.py` computes it: the biased (V-statistic, diagonals
 * included) MMD² with a Gaussian RBF kernel exp(−‖x−y‖²/(2σ²)), σ = 10, times 1000. That code
 * runs in JAX's default float32; this runs in float64 (differences at the 1e-4 level for
 * near-identical sets). The reference code applies it to L2-normalised CLIP embeddings; this
 * function applies it to the vectors as given, like distance.py.
 */
export function cmmd(a: Matrix, b: Matrix): number {
  sameDim(a, b);
  const gamma = 1 / (2 * CMMD_SIGMA ** 2);
  const rbf = (dot: number, nx: number, ny: number): number => Math.exp(-gamma * (nx + ny - 2 * dot));
  const xx = kernelSum(a, a, rbf, false) / (a.rows * a.rows);
  const yy = kernelSum(b, b, rbf, false) / (b.rows * b.rows);
  const xy = kernelSum(a, b, rbf, false) / (a.rows * b.rows);
  return CMMD_SCALE * (xx + yy - 2 * xy);
}

export interface DistanceReport {
  fid: number;
  kid_full: number;
  kid_mean: number;
  kid_std: number;
  cmmd: number;
  n_a: number;
  n_b: number;
  dim: number;
}

/** Every distance of `loralens distance` for two packed sets. */
export function allDistances(a: Matrix, b: Matrix, kid: KidSubsetOptions = {}): DistanceReport {
  sameDim(a, b);
  const subsets = kidSubsets(a, b, kid);
  return {
    fid: fid(a, b),
    kid_full: kidFull(a, b),
    kid_mean: subsets.mean,
    kid_std: subsets.std,
    cmmd: cmmd(a, b),
    n_a: a.rows,
    n_b: b.rows,
    dim: a.cols,
  };
}
