/**
 * Dense linear algebra on row-major Float64Array matrices, sized for feature statistics
 * (n × d with d ≤ a few thousand): Gram matrices, column means, covariances and the
 * eigen-decomposition of a symmetric matrix. No native code, no allocation in inner loops.
 */

/** A row-major matrix: `data[i * cols + j]`. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array<ArrayBufferLike>;
}

export function matrix(
  rows: number,
  cols: number,
  data: Float64Array<ArrayBufferLike> = new Float64Array(rows * cols),
): Matrix {
  return { rows, cols, data };
}

/** Copy rows of number arrays (all of one length) into a matrix. */
export function fromRows(rows: readonly (readonly number[])[]): Matrix {
  const n = rows.length;
  const d = n === 0 ? 0 : rows[0]!.length;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) out.set(rows[i]!, i * d);
  return matrix(n, d, out);
}

/** The rows of `m` picked by `idx`, in that order. */
export function pickRows(m: Matrix, idx: readonly number[]): Matrix {
  const out = new Float64Array(idx.length * m.cols);
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r]!;
    out.set(m.data.subarray(i * m.cols, (i + 1) * m.cols), r * m.cols);
  }
  return matrix(idx.length, m.cols, out);
}

/**
 * A · Bᵀ for A (n × d) and B (m × d): the Gram matrix between two sets of row vectors.
 * Blocked over rows so both operands stay in cache for large n, m.
 */
export function gram(a: Matrix, b: Matrix): Matrix {
  const { rows: n, cols: d } = a;
  const m = b.rows;
  const out = new Float64Array(n * m);
  const A = a.data;
  const B = b.data;
  const BLOCK = 64;
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    for (let j0 = 0; j0 < m; j0 += BLOCK) {
      const j1 = Math.min(m, j0 + BLOCK);
      for (let i = i0; i < i1; i++) {
        const ai = i * d;
        for (let j = j0; j < j1; j++) {
          const bj = j * d;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          let k = 0;
          for (; k + 3 < d; k += 4) {
            s0 += A[ai + k]! * B[bj + k]!;
            s1 += A[ai + k + 1]! * B[bj + k + 1]!;
            s2 += A[ai + k + 2]! * B[bj + k + 2]!;
            s3 += A[ai + k + 3]! * B[bj + k + 3]!;
          }
          for (; k < d; k++) s0 += A[ai + k]! * B[bj + k]!;
          out[i * m + j] = s0 + s1 + s2 + s3;
        }
      }
    }
  }
  return matrix(n, m, out);
}

/** Column means of an n × d matrix. */
export function columnMeans(m: Matrix): Float64Array {
  const mean = new Float64Array(m.cols);
  for (let i = 0; i < m.rows; i++) {
    const off = i * m.cols;
    for (let j = 0; j < m.cols; j++) mean[j]! += m.data[off + j]!;
  }
  for (let j = 0; j < m.cols; j++) mean[j]! /= m.rows;
  return mean;
}

/**
 * Sample covariance of the columns (d × d), normalised by n − 1 as `numpy.cov(x, rowvar=False)`.
 * Needs n ≥ 2.
 */
export function covariance(m: Matrix, mean = columnMeans(m)): Matrix {
  const { rows: n, cols: d } = m;
  const centred = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) centred[i * d + j] = m.data[i * d + j]! - mean[j]!;
  }
  // Σ = Xcᵀ Xc / (n − 1), accumulated row by row (upper triangle, then mirrored).
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    const off = i * d;
    for (let a = 0; a < d; a++) {
      const xa = centred[off + a]!;
      if (xa === 0) continue;
      const row = a * d;
      for (let b = a; b < d; b++) cov[row + b]! += xa * centred[off + b]!;
    }
  }
  const scale = 1 / (n - 1);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b]! * scale;
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  return matrix(d, d, cov);
}

export function trace(m: Matrix): number {
  let t = 0;
  for (let i = 0; i < m.rows; i++) t += m.data[i * m.cols + i]!;
  return t;
}

/** C = A · B for square or rectangular matrices (A: n × k, B: k × m). */
export function multiply(a: Matrix, b: Matrix): Matrix {
  const n = a.rows;
  const k = a.cols;
  const m = b.cols;
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const oi = i * m;
    for (let p = 0; p < k; p++) {
      const aip = a.data[i * k + p]!;
      if (aip === 0) continue;
      const bp = p * m;
      for (let j = 0; j < m; j++) out[oi + j]! += aip * b.data[bp + j]!;
    }
  }
  return matrix(n, m, out);
}

/**
 * Eigen-decomposition of a real symmetric matrix: Householder reduction to tridiagonal form,
 * then the implicit QL algorithm (the EISPACK tred2/tql2 pair, as in JAMA). Returns eigenvalues
 * in ascending order and the eigenvectors as the columns of a row-major d × d matrix.
 */
export function symmetricEigen(input: Matrix): { values: Float64Array; vectors: Matrix } {
  const n = input.rows;
  const V = Float64Array.from(input.data);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const at = (i: number, j: number): number => V[i * n + j]!;
  const set = (i: number, j: number, v: number): void => {
    V[i * n + j] = v;
  };

  // tred2: Householder tridiagonalisation.
  for (let j = 0; j < n; j++) d[j] = at(n - 1, j);
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = at(i - 1, j);
        set(i, j, 0);
        set(j, i, 0);
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        set(j, i, f);
        g = e[j]! + at(j, j) * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += at(k, j) * d[k]!;
          e[k]! += at(k, j) * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) set(k, j, at(k, j) - (f * e[k]! + g * d[k]!));
        d[j] = at(i - 1, j);
        set(i, j, 0);
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    set(n - 1, i, at(i, i));
    set(i, i, 1);
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = at(k, i + 1) / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += at(k, i + 1) * at(k, j);
        for (let k = 0; k <= i; k++) set(k, j, at(k, j) - g * d[k]!);
      }
    }
    for (let k = 0; k <= i; k++) set(k, i + 1, 0);
  }
  for (let j = 0; j < n; j++) {
    d[j] = at(n - 1, j);
    set(n - 1, j, 0);
  }
  if (n > 0) set(n - 1, n - 1, 1);
  e[0] = 0;

  // tql2: implicit QL on the tridiagonal matrix, accumulating the transformations in V.
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  if (n > 0) e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      for (let iter = 0; iter < 1000; iter++) {
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          for (let k = 0; k < n; k++) {
            h = at(k, i + 1);
            set(k, i + 1, s * at(k, i) + c * h);
            set(k, i, c * at(k, i) - s * h);
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]!) > eps * tst1)) break;
      }
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }

  // Sort eigenvalues (and vectors) ascending.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => d[a]! - d[b]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const src = order[c]!;
    values[c] = d[src]!;
    for (let r = 0; r < n; r++) vectors[r * n + c] = V[r * n + src]!;
  }
  return { values, vectors: matrix(n, n, vectors) };
}

/**
 * The principal square root of a symmetric positive semi-definite matrix, V·diag(√λ)·Vᵀ with
 * eigenvalues below zero (rounding) clamped to 0.
 */
export function sqrtPsd(m: Matrix): Matrix {
  const { values, vectors } = symmetricEigen(m);
  const n = m.rows;
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(0, values[k]!));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors.data[i * n + k]! * s;
      if (vik === 0) continue;
      const row = i * n;
      for (let j = 0; j < n; j++) out[row + j]! += vik * vectors.data[j * n + k]!;
    }
  }
  return matrix(n, n, out);
}
