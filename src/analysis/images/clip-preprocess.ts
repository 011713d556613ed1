import { AppError, ErrorCode } from '../errors.ts';
import {
  pilBicubicResizeWindow,
  premultiplyAlpha,
  type RawImage,
  unpremultiplyAlpha,
} from './pil-resample.ts';

export const CLIP_IMAGE_SIZE = 224;
/** openai/CLIP `_transform` normalisation constants. */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
export const CLIP_TENSOR_LENGTH = 3 * CLIP_IMAGE_SIZE * CLIP_IMAGE_SIZE;

export interface ClipResizePlan {
  resizedWidth: number;
  resizedHeight: number;
  left: number;
  top: number;
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * torchvision `Resize(224)` (shorter side to 224, longer side `int(224 * long / short)`) and
 * `CenterCrop(224)` (offsets `int(round((size - 224) / 2))`).
 */
export function clipResizePlan(width: number, height: number, size = CLIP_IMAGE_SIZE): ClipResizePlan {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newLong = Math.trunc((size * long) / short);
  const resizedWidth = width <= height ? size : newLong;
  const resizedHeight = width <= height ? newLong : size;
  return {
    resizedWidth,
    resizedHeight,
    left: roundHalfEven((resizedWidth - size) / 2),
    top: roundHalfEven((resizedHeight - size) / 2),
  };
}

/**
 * CLIP preprocessing exactly as openai/CLIP's torchvision transform on a PIL image: bicubic resize of
 * the shorter side to 224 (Pillow's antialiased kernel, alpha premultiplied during the resize like
 * Pillow does for RGBA), centre crop, RGB, [0,1], CLIP mean/std; written as CHW float32 into
 * `out` at `offset`. Throws INPUT_INVALID for a malformed buffer.
 */
export function writeClipTensor(img: RawImage, out: Float32Array, offset = 0): void {
  const { width, height, channels } = img;
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 1 ||
    height < 1 ||
    (channels !== 3 && channels !== 4) ||
    img.data.length !== width * height * channels
  ) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'Raw image buffer does not match its dimensions', {
      details: { width, height, channels, bytes: img.data.length },
    });
  }
  if (out.length < offset + CLIP_TENSOR_LENGTH) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'Output tensor too small for one CLIP image');
  }
  const plan = clipResizePlan(width, height);
  let source = img;
  const translucent = channels === 4 && hasTranslucency(img.data);
  if (translucent) {
    source = { ...img, data: Uint8Array.from(img.data) };
    premultiplyAlpha(source);
  }
  const resized = pilBicubicResizeWindow(source, {
    outWidth: plan.resizedWidth,
    outHeight: plan.resizedHeight,
    left: plan.left,
    top: plan.top,
    width: CLIP_IMAGE_SIZE,
    height: CLIP_IMAGE_SIZE,
  });
  if (translucent) unpremultiplyAlpha(resized);
  const plane = CLIP_IMAGE_SIZE * CLIP_IMAGE_SIZE;
  const d = resized.data;
  for (let c = 0; c < 3; c++) {
    const lut = NORMALISED[c]!;
    const base = offset + c * plane;
    for (let i = 0, p = c; i < plane; i++, p += channels) out[base + i] = lut[d[p]!]!;
  }
}

/**
 * Per channel, the normalised value of each byte with the same float32 steps as ToTensor (x/255)
 * then Normalize ((x-mean)/std): a lookup gives the identical number without per-pixel arithmetic.
 */
const NORMALISED: readonly Float32Array[] = [0, 1, 2].map((c) => {
  const mean = Math.fround(CLIP_MEAN[c]!);
  const std = Math.fround(CLIP_STD[c]!);
  return Float32Array.from({ length: 256 }, (_, b) => {
    const v = Math.fround(b / 255);
    return Math.fround(Math.fround(v - mean) / std);
  });
});

/** One CLIP input tensor (3·224·224 float32, CHW) for one decoded image. */
export function clipTensor(img: RawImage): Float32Array {
  const out = new Float32Array(CLIP_TENSOR_LENGTH);
  writeClipTensor(img, out, 0);
  return out;
}

function hasTranslucency(data: Uint8Array): boolean {
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return true;
  return false;
}
