import sharp from 'sharp';
import { AppError, ErrorCode } from '../errors.ts';
import type { RawImage } from './pil-resample.ts';
import { sniffImage } from './sniff.ts';
import { type ImageSkip, ImageSkipReason, skip } from './types.ts';

export interface DecodeLimits {
  /** Refuse bodies larger than this many bytes (default 20 MiB). */
  maxBytes?: number;
  /** Refuse images with more pixels than this (sharp `limitInputPixels`, default 40 MP). */
  maxPixels?: number;
}

export interface DecodedImage extends RawImage {
  ok: true;
  format: string;
  /** Width/height as stored, before EXIF orientation. */
  sourceWidth: number;
  sourceHeight: number;
  animated: boolean;
}

const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
const DEFAULT_MAX_PIXELS = 40_000_000;
const ALLOWED_SHARP_FORMATS = new Set(['jpeg', 'png', 'gif', 'webp', 'heif']);

function checkLimits(limits: DecodeLimits): { maxBytes: number; maxPixels: number } {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxPixels = limits.maxPixels ?? DEFAULT_MAX_PIXELS;
  for (const [name, value] of [
    ['maxBytes', maxBytes],
    ['maxPixels', maxPixels],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new AppError(ErrorCode.INPUT_INVALID, `Decode limit ${name} must be a positive integer`, {
        details: { [name]: value },
      });
    }
  }
  return { maxBytes, maxPixels };
}

function classifySharpError(error: unknown): ImageSkip {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return skip(ImageSkipReason.TOO_MANY_PIXELS, message);
  if (
    /premature|truncat|end of (input|file|stream)|unexpected end|read error|not enough data/i.test(message)
  ) {
    return skip(ImageSkipReason.TRUNCATED, message);
  }
  return skip(ImageSkipReason.DECODE_ERROR, message);
}

/**
 * Decode an image body with sharp under limits: magic-byte sniffing first (SVG, video, HTML/JSON and
 * unknown bodies are refused without touching a decoder), then the header (format allow-list, pixel
 * limit), then the first frame only, EXIF orientation applied, sRGB, 8-bit RGB or RGBA.
 * Expected refusals are returned as an {@link ImageSkip}; throws INPUT_INVALID only for bad limits.
 */
export async function decodeImage(
  bytes: Uint8Array,
  limits: DecodeLimits = {},
): Promise<DecodedImage | ImageSkip> {
  const { maxBytes, maxPixels } = checkLimits(limits);
  if (bytes.length > maxBytes) {
    return skip(ImageSkipReason.TOO_LARGE_BYTES, `${bytes.length} bytes > ${maxBytes}`);
  }
  if (bytes.length === 0) return skip(ImageSkipReason.NOT_IMAGE, 'empty body');
  const sniffed = sniffImage(bytes);
  switch (sniffed.kind) {
    case 'svg':
      return skip(ImageSkipReason.SVG, 'SVG images are not decoded');
    case 'video':
      return skip(ImageSkipReason.VIDEO, `video container (${sniffed.format})`);
    case 'text':
      return skip(ImageSkipReason.NOT_IMAGE, `body is ${sniffed.format}, not an image`);
    case 'unknown':
      return skip(ImageSkipReason.NOT_IMAGE, 'unrecognised body (no image signature)');
    case 'image-unsupported':
      return skip(ImageSkipReason.UNSUPPORTED_FORMAT, `${sniffed.format} is not supported`);
    case 'image':
      break;
  }
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const options = {
    limitInputPixels: maxPixels,
    failOn: 'truncated',
    pages: 1,
    page: 0,
    animated: false,
    sequentialRead: true,
  } as const;
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, options).metadata();
  } catch (error) {
    return classifySharpError(error);
  }
  if (!meta.format || !ALLOWED_SHARP_FORMATS.has(meta.format)) {
    return skip(ImageSkipReason.UNSUPPORTED_FORMAT, `decoder reports ${meta.format ?? 'no format'}`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width < 1 || height < 1) return skip(ImageSkipReason.DECODE_ERROR, 'image has no dimensions');
  if (width * height > maxPixels) {
    return skip(ImageSkipReason.TOO_MANY_PIXELS, `${width}×${height} > ${maxPixels} pixels`);
  }
  try {
    const { data, info } = await sharp(input, options)
      .rotate()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 && info.channels !== 4) {
      return skip(ImageSkipReason.DECODE_ERROR, `unexpected channel count ${info.channels}`);
    }
    return {
      ok: true,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      channels: info.channels,
      format: sniffed.format,
      sourceWidth: width,
      sourceHeight: height,
      animated: (meta.pages ?? 1) > 1,
    };
  } catch (error) {
    return classifySharpError(error);
  }
}
