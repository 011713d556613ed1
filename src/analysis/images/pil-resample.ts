/**
 * Pillow's antialiased bicubic resize (libImaging/Resample.c, 8 bits per channel) ported to JS, so the
 * CLIP tensor equals what `PIL.Image.resize(size, BICUBIC)` gives the reference preprocessing. Only
 * the requested output window is computed: every output pixel depends only on its own coefficients,
 * so cropping after a full resize and resizing only the crop give identical values.
 */

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

function clip8(ss: number): number {
  const v = Math.floor(ss / SCALE);
  return v < 0 ? 0 : Math.min(v, 255);
}

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

/**
 * Resize `src` to `outWidth × outHeight` with Pillow's BICUBIC filter and return only the window,
 * channel-interleaved like the input. A pass is skipped when that dimension does not change, as Pillow does.
 */
export function pilBicubicResizeWindow(src: RawImage, win: ResampleWindow): RawImage {
  const { width: inW, height: inH, channels: ch } = src;
  const needH = win.outWidth !== inW;
  const needV = win.outHeight !== inH;

  // Rows of the input the vertical pass will read.
  let rowFrom = win.top;
  let rowTo = win.top + win.height;
  const vert = needV ? coefficients(inH, win.outHeight, win.top, win.height) : null;
  if (vert) {
    rowFrom = Number.POSITIVE_INFINITY;
    rowTo = 0;
    for (let i = 0; i < win.height; i++) {
      const ymin = vert.bounds[i * 2]!;
      rowFrom = Math.min(rowFrom, ymin);
      rowTo = Math.max(rowTo, ymin + vert.bounds[i * 2 + 1]!);
    }
  }
  const tmpRows = rowTo - rowFrom;
  const tmp = new Uint8Array(win.width * tmpRows * ch);
  if (needH) {
    const hor = coefficients(inW, win.outWidth, win.left, win.width);
    convolve(
      src.data,
      inW * ch,
      rowFrom * inW * ch,
      ch,
      hor,
      win.width,
      tmpRows,
      tmp,
      win.width * ch,
      ch,
      ch,
    );
  } else {
    for (let y = 0; y < tmpRows; y++) {
      const s = ((y + rowFrom) * inW + win.left) * ch;
      tmp.set(src.data.subarray(s, s + win.width * ch), y * win.width * ch);
    }
  }
  if (!vert) {
    return { data: tmp, width: win.width, height: win.height, channels: ch };
  }
  // Vertical pass: the same 1-D convolution with rows and columns swapped (taps step one row).
  const out = new Uint8Array(win.width * win.height * ch);
  const shifted: Coefficients = {
    ...vert,
    bounds: vert.bounds.map((b, i) => (i % 2 === 0 ? b - rowFrom : b)),
  };
  convolve(tmp, ch, 0, win.width * ch, shifted, win.height, win.width, out, ch, win.width * ch, ch);
  return { data: out, width: win.width, height: win.height, channels: ch };
}

/**
 * 1-D fixed-point convolution over `lines` lines. For output index `o` of line `l`, taps read
 * `src[srcBase + l*lineStride + (xmin+x)*tapStride + c]` and the result goes to
 * `dst[l*dstLineStride + o*dstStep + c]` for each of the `ch` (3 or 4) channels.
 */
function convolve(
  src: Uint8Array,
  lineStride: number,
  srcBase: number,
  tapStride: number,
  k: Coefficients,
  outCount: number,
  lines: number,
  dst: Uint8Array,
  dstLineStride: number,
  dstStep: number,
  ch: number,
): void {
  const { bounds, kk, ksize } = k;
  const has4 = ch === 4;
  for (let l = 0; l < lines; l++) {
    const lineBase = srcBase + l * lineStride;
    const dstLine = l * dstLineStride;
    for (let o = 0; o < outCount; o++) {
      const xmin = bounds[o * 2]!;
      const xmax = bounds[o * 2 + 1]!;
      const kOff = o * ksize;
      let a0 = HALF;
      let a1 = HALF;
      let a2 = HALF;
      let a3 = HALF;
      let p = lineBase + xmin * tapStride;
      for (let x = 0; x < xmax; x++, p += tapStride) {
        const w = kk[kOff + x]!;
        a0 += src[p]! * w;
        a1 += src[p + 1]! * w;
        a2 += src[p + 2]! * w;
        if (has4) a3 += src[p + 3]! * w;
      }
      const d = dstLine + o * dstStep;
      dst[d] = clip8(a0);
      dst[d + 1] = clip8(a1);
      dst[d + 2] = clip8(a2);
      if (has4) dst[d + 3] = clip8(a3);
    }
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
