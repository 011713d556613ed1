/**
 * Pillow's antialiased bicubic resize (libImaging/Resample.c, 8 bits per channel) ported to JS, so the
 * CLIP tensor equals what `PIL.Image.resize(size, BICUBIC)` gives the reference preprocessing. Only
 * the requested output window is computed: every output pixel depends only on its own coefficients,
 * so cropping after a full resize and resizing only the crop give identical values.
 */
import { AppError, ErrorCode } from '../errors.ts';
import { resampleWasm, type WasmArena } from './wasm/resample-wasm.ts';

const PRECISION_BITS = 32 - 8 - 2;
const SCALE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);
const BICUBIC_SUPPORT = 2;

function bicubic(xIn: number): number {
  const a = -0.5;
  const x = Math.abs(xIn);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coefficients {
  ksize: number;
  /** Per output index: first input index and tap count. */
  bounds: Int32Array;
  /** Fixed-point taps, `ksize` per output index. */
  kk: Int32Array;
}

/** Pillow `precompute_coeffs` + `normalize_coeffs_8bpc` for output indices [from, from+count). */
function coefficients(inSize: number, outSize: number, from: number, count: number): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(count * 2);
  const kk = new Int32Array(count * ksize);
  const pre = new Float64Array(ksize);
  for (let i = 0; i < count; i++) {
    const xx = from + i;
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // C casts truncate toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      pre[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? pre[x]! / ww : pre[x]!;
      kk[i * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * SCALE) : Math.trunc(0.5 + w * SCALE);
    }
    bounds[i * 2] = xmin;
    bounds[i * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** Pillow `clip8`: the fixed-point sum back to a byte (arithmetic shift, as C does for int). */
function clip8(ss: number): number {
  if (ss >= CLIP8_MAX) return 255;
  if (ss <= 0) return 0;
  return ss >> PRECISION_BITS;
}
const CLIP8_MAX = 256 * SCALE;

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export interface ResampleWindow {
  /** Full resized size (what Pillow would produce). */
  outWidth: number;
  outHeight: number;
  /** Window of the resized image to compute. */
  left: number;
  top: number;
  width: number;
  height: number;
}

/** `auto`: the WebAssembly SIMD passes when this runtime has them, else JS. Both give identical bytes. */
export type ResampleBackend = 'auto' | 'js' | 'wasm';

/**
 * Resize `src` to `outWidth × outHeight` with Pillow's BICUBIC filter and return only the window,
 * channel-interleaved like the input. A pass is skipped when that dimension does not change, as Pillow does.
 */
export function pilBicubicResizeWindow(
  src: RawImage,
  win: ResampleWindow,
  backend: ResampleBackend = 'auto',
): RawImage {
  checkResizeInput(src, win);
  const { width: inW, height: inH } = src;
  const hor = win.outWidth !== inW ? coefficients(inW, win.outWidth, win.left, win.width) : null;
  const vert = win.outHeight !== inH ? coefficients(inH, win.outHeight, win.top, win.height) : null;
  // Rows of the input the vertical pass will read.
  let rowFrom = win.top;
  let rowTo = win.top + win.height;
  if (vert) {
    rowFrom = vert.bounds[0]!;
    rowTo = 0;
    for (let i = 0; i < win.height; i++) {
      const ymin = vert.bounds[i * 2]!;
      rowFrom = Math.min(rowFrom, ymin);
      rowTo = Math.max(rowTo, ymin + vert.bounds[i * 2 + 1]!);
    }
    // The vertical pass indexes the intermediate rows, which start at rowFrom.
    for (let i = 0; i < win.height; i++) vert.bounds[i * 2] = vert.bounds[i * 2]! - rowFrom;
  }
  const passes: Passes = { src, win, rowFrom, tmpRows: rowTo - rowFrom, hor, vert };
  const wasm = backend === 'js' ? null : resampleWasm();
  if (wasm) return wasmPasses(wasm, passes);
  if (backend === 'wasm') throw new Error('WebAssembly SIMD resampling is not available in this runtime');
  return jsPasses(passes);
}

function checkResizeInput(src: RawImage, win: ResampleWindow): void {
  const { width, height, channels } = src;
  const whole = (n: number, min: number): boolean => Number.isSafeInteger(n) && n >= min;
  const imageOk =
    whole(width, 1) &&
    whole(height, 1) &&
    (channels === 3 || channels === 4) &&
    src.data.length === width * height * channels;
  const windowOk =
    whole(win.outWidth, 1) &&
    whole(win.outHeight, 1) &&
    whole(win.left, 0) &&
    whole(win.top, 0) &&
    whole(win.width, 1) &&
    whole(win.height, 1) &&
    win.left + win.width <= win.outWidth &&
    win.top + win.height <= win.outHeight;
  if (!imageOk || !windowOk) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'Resize input or window out of range', {
      details: { width, height, channels, bytes: src.data.length, window: win },
    });
  }
}

interface Passes {
  src: RawImage;
  win: ResampleWindow;
  /** First input row the vertical pass reads, and how many rows the intermediate image has. */
  rowFrom: number;
  tmpRows: number;
  hor: Coefficients | null;
  /** Vertical taps, with row indices relative to rowFrom. */
  vert: Coefficients | null;
}

function jsPasses({ src, win, rowFrom, tmpRows, hor, vert }: Passes): RawImage {
  const { width: inW, channels: ch } = src;
  const tmp = new Uint8Array(win.width * tmpRows * ch);
  if (hor) {
    horizontalPass(src.data, inW * ch, rowFrom, tmpRows, ch, hor, win.width, tmp);
  } else {
    copyColumns(src, rowFrom, tmpRows, win.left, win.width, tmp);
  }
  if (!vert) return { data: tmp, width: win.width, height: win.height, channels: ch };
  const out = new Uint8Array(win.width * win.height * ch);
  verticalPass(tmp, win.width * ch, vert, win.height, out);
  return { data: out, width: win.width, height: win.height, channels: ch };
}

/** Input rows [rowFrom, rowFrom+rows), columns [left, left+width), into `dst` (packed). */
function copyColumns(
  src: RawImage,
  rowFrom: number,
  rows: number,
  left: number,
  width: number,
  dst: Uint8Array,
): void {
  const { width: inW, channels: ch } = src;
  for (let y = 0; y < rows; y++) {
    const s = ((y + rowFrom) * inW + left) * ch;
    dst.set(src.data.subarray(s, s + width * ch), y * width * ch);
  }
}

/** Input rows copied into WebAssembly memory per strip of at most this many bytes (bounds the memory). */
const STRIP_BYTES = 1 << 20;

function wasmPasses(arena: WasmArena, { src, win, rowFrom, tmpRows, hor, vert }: Passes): RawImage {
  const { width: inW, channels: ch } = src;
  const inStride = inW * ch;
  const rowLen = win.width * ch;
  const stripRows = Math.max(1, Math.min(tmpRows, Math.floor(STRIP_BYTES / inStride)));
  arena.reset();
  const horBounds = hor ? arena.alloc(hor.bounds.byteLength) : 0;
  const horKk = hor ? arena.alloc(hor.kk.byteLength) : 0;
  const vertBounds = vert ? arena.alloc(vert.bounds.byteLength) : 0;
  const vertKk = vert ? arena.alloc(vert.kk.byteLength) : 0;
  const strip = hor ? arena.alloc(stripRows * inStride) : 0;
  const tmp = arena.alloc(rowLen * tmpRows);
  const out = vert ? arena.alloc(rowLen * win.height) : tmp;
  const fns = arena.fns;
  if (hor) {
    arena.int32(horBounds, hor.bounds.length).set(hor.bounds);
    arena.int32(horKk, hor.kk.length).set(hor.kk);
    for (let y = 0; y < tmpRows; y += stripRows) {
      const rows = Math.min(stripRows, tmpRows - y);
      const from = (rowFrom + y) * inStride;
      arena.bytes(strip, rows * inStride).set(src.data.subarray(from, from + rows * inStride));
      fns.horizontal(strip, inStride, rows, ch, horBounds, horKk, hor.ksize, win.width, tmp + y * rowLen);
    }
  } else {
    copyColumns(src, rowFrom, tmpRows, win.left, win.width, arena.bytes(tmp, rowLen * tmpRows));
  }
  if (vert) {
    arena.int32(vertBounds, vert.bounds.length).set(vert.bounds);
    arena.int32(vertKk, vert.kk.length).set(vert.kk);
    fns.vertical(tmp, rowLen, vertBounds, vertKk, vert.ksize, win.height, out);
  }
  return {
    data: arena.bytes(out, rowLen * win.height).slice(),
    width: win.width,
    height: win.height,
    channels: ch,
  };
}

// Both passes use Int32 arithmetic like Pillow's C (`int ss += UINT8 * INT32`): |sum| < 255 · 1.25 · 2^22
// < 2^31, so Math.imul and `| 0` are exact and keep V8 on integer paths.

/** Pillow `ImagingResampleHorizontal_8bpc` over `rows` input rows starting at `rowFrom`. */
function horizontalPass(
  src: Uint8Array,
  inStride: number,
  rowFrom: number,
  rows: number,
  ch: number,
  k: Coefficients,
  outW: number,
  dst: Uint8Array,
): void {
  const { bounds, kk, ksize } = k;
  const outStride = outW * ch;
  for (let l = 0; l < rows; l++) {
    const lineBase = (rowFrom + l) * inStride;
    let d = l * outStride;
    for (let o = 0; o < outW; o++, d += ch) {
      const xmax = bounds[o * 2 + 1]!;
      const kOff = o * ksize;
      let p = lineBase + bounds[o * 2]! * ch;
      let a0 = HALF;
      let a1 = HALF;
      let a2 = HALF;
      if (ch === 3) {
        for (let x = 0; x < xmax; x++, p += 3) {
          const w = kk[kOff + x]!;
          a0 = (a0 + Math.imul(src[p]!, w)) | 0;
          a1 = (a1 + Math.imul(src[p + 1]!, w)) | 0;
          a2 = (a2 + Math.imul(src[p + 2]!, w)) | 0;
        }
      } else {
        let a3 = HALF;
        for (let x = 0; x < xmax; x++, p += 4) {
          const w = kk[kOff + x]!;
          a0 = (a0 + Math.imul(src[p]!, w)) | 0;
          a1 = (a1 + Math.imul(src[p + 1]!, w)) | 0;
          a2 = (a2 + Math.imul(src[p + 2]!, w)) | 0;
          a3 = (a3 + Math.imul(src[p + 3]!, w)) | 0;
        }
        dst[d + 3] = clip8(a3);
      }
      dst[d] = clip8(a0);
      dst[d + 1] = clip8(a1);
      dst[d + 2] = clip8(a2);
    }
  }
}

/**
 * Pillow `ImagingResampleVertical_8bpc`: each output row is a weighted sum of whole input rows, so the
 * taps run over contiguous rows (`src` holds the intermediate rows, `rowLen` bytes each).
 */
function verticalPass(src: Uint8Array, rowLen: number, k: Coefficients, outH: number, dst: Uint8Array): void {
  const { bounds, kk, ksize } = k;
  const acc = new Int32Array(rowLen);
  for (let o = 0; o < outH; o++) {
    acc.fill(HALF);
    const ymin = bounds[o * 2]!;
    const ymax = bounds[o * 2 + 1]!;
    for (let y = 0; y < ymax; y++) {
      const w = kk[o * ksize + y]!;
      const base = (ymin + y) * rowLen;
      for (let j = 0; j < rowLen; j++) acc[j] = (acc[j]! + Math.imul(src[base + j]!, w)) | 0;
    }
    const d = o * rowLen;
    for (let j = 0; j < rowLen; j++) dst[d + j] = clip8(acc[j]!);
  }
}

/** Pillow RGBA → RGBa (premultiplied), `MULDIV255` rounding; in place. */
export function premultiplyAlpha(img: RawImage): void {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) {
    const a = d[i + 3]!;
    for (let c = 0; c < 3; c++) {
      const tmp = d[i + c]! * a + 128;
      d[i + c] = ((tmp >> 8) + tmp) >> 8;
    }
  }
}

/** Pillow RGBa → RGBA (integer division, clipped); in place. */
export function unpremultiplyAlpha(img: RawImage): void {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) {
    const a = d[i + 3]!;
    if (a === 255 || a === 0) continue;
    for (let c = 0; c < 3; c++) {
      const v = Math.floor((255 * d[i + c]!) / a);
      d[i + c] = Math.min(v, 255);
    }
  }
}
