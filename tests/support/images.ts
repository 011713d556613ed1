import type { DecodedImage } from '../../src/analysis/images/decode.ts';

/** A decoded 8-bit RGB image of `width` × `height` from raw pixels, as decodeImage returns one. */
export function decodedRgb(data: Uint8Array, width: number, height = width): DecodedImage {
  return {
    ok: true,
    data,
    width,
    height,
    channels: 3,
    format: 'png',
    sourceWidth: width,
    sourceHeight: height,
    animated: false,
  };
}
