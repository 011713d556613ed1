import type { RawImage } from '../../images/pil-resample.ts';

/** Which part of the image goes into a tensor, and how its pixels become floats. */
export interface TensorSpec {
  /** Source rectangle in image pixels; it may extend past the image (outside reads as `fill`). */
  rect: { x: number; y: number; w: number; h: number };
  /** Size the rectangle is resampled to (top-left of the tensor). */
  outW: number;
  outH: number;
  /** Tensor size, ≥ outW × outH; the rest is `fill` (YuNet pads bottom/right to a multiple of 32). */
  tensorW?: number;
  tensorH?: number;
  /** Channel order of the tensor (the image is RGB). */
  order: 'rgb' | 'bgr';
  /** Tensor value = pixel × scale + offset. */
  scale: number;
  offset: number;
  /** Raw pixel value (0..255) used outside the image and in the padding. Default 0. */
  fill?: number;
}

const MAX_SUPERSAMPLE = 4;

/**
 * Resample part of an RGB(A) raw image into an NCHW float32 tensor: bilinear, with k×k supersampling
 * when shrinking (k = ceil(scale), at most 4) so small faces in large images do not alias.
 */
export function imageToTensor(image: RawImage, spec: TensorSpec): Float32Array {
  const { width: W, height: H, channels: C, data } = image;
  const { rect, outW, outH } = spec;
  const tw = spec.tensorW ?? outW;
  const th = spec.tensorH ?? outH;
  const fill = spec.fill ?? 0;
  const plane = tw * th;
  const out = new Float32Array(3 * plane).fill(fill * spec.scale + spec.offset);
  const sx = rect.w / outW;
  const sy = rect.h / outH;
  const kx = Math.min(MAX_SUPERSAMPLE, Math.max(1, Math.ceil(sx - 1e-9)));
  const ky = Math.min(MAX_SUPERSAMPLE, Math.max(1, Math.ceil(sy - 1e-9)));
  const n = kx * ky;
  const chan = spec.order === 'rgb' ? [0, 1, 2] : [2, 1, 0];
  const acc = [0, 0, 0];
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      acc[0] = 0;
      acc[1] = 0;
      acc[2] = 0;
      for (let j = 0; j < ky; j++) {
        const fy = rect.y + (oy + (j + 0.5) / ky) * sy - 0.5;
        for (let i = 0; i < kx; i++) {
          const fx = rect.x + (ox + (i + 0.5) / kx) * sx - 0.5;
          if (fx < -0.5 || fy < -0.5 || fx > W - 0.5 || fy > H - 0.5) {
            acc[0] += fill;
            acc[1] += fill;
            acc[2] += fill;
            continue;
          }
          const x0 = Math.max(0, Math.min(W - 1, Math.floor(fx)));
          const y0 = Math.max(0, Math.min(H - 1, Math.floor(fy)));
          const x1 = Math.min(W - 1, x0 + 1);
          const y1 = Math.min(H - 1, y0 + 1);
          const ax = Math.max(0, Math.min(1, fx - x0));
          const ay = Math.max(0, Math.min(1, fy - y0));
          const p00 = (y0 * W + x0) * C;
          const p01 = (y0 * W + x1) * C;
          const p10 = (y1 * W + x0) * C;
          const p11 = (y1 * W + x1) * C;
          for (let c = 0; c < 3; c++) {
            const top = data[p00 + c]! + (data[p01 + c]! - data[p00 + c]!) * ax;
            const bottom = data[p10 + c]! + (data[p11 + c]! - data[p10 + c]!) * ax;
            acc[c]! += top + (bottom - top) * ay;
          }
        }
      }
      const o = oy * tw + ox;
      for (let c = 0; c < 3; c++) out[chan[c]! * plane + o] = (acc[c]! / n) * spec.scale + spec.offset;
    }
  }
  return out;
}
