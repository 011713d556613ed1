import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../../src/analysis/images/decode.ts';
import { sniffImage } from '../../src/analysis/images/sniff.ts';
import { needsShared, SHARED_DIR } from '../support/requirements.ts';

// A real 512×512 PNG from ../shared; without that folder the tests that use it are skipped.
const shared = needsShared();
const png = shared.skip
  ? Buffer.alloc(0)
  : readFileSync(resolve(SHARED_DIR, 'fixtures', 'images', 'comfyex-1.png'));

async function reason(bytes: Uint8Array, limits = {}): Promise<string> {
  const r = await decodeImage(bytes, limits);
  return r.ok ? 'ok' : r.reason;
}

describe('decodeImage refusals', () => {
  test('SVG is refused before any decoder runs, with or without an XML prolog', async () => {
    assert.equal(
      await reason(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')),
      'svg',
    );
    assert.equal(await reason(Buffer.from('\uFEFF<?xml version="1.0"?>\n<svg></svg>')), 'svg');
  });

  test('MP4 and WebM containers are refused as video', async () => {
    const mp4 = Buffer.concat([
      Buffer.from([0, 0, 0, 24]),
      Buffer.from('ftypisom\0\0\x02\0isomiso2'),
      Buffer.alloc(64),
    ]);
    assert.equal(await reason(mp4), 'video');
    assert.equal(await reason(Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 1, 2, 3, 4])), 'video');
  });

  test('HTML, JSON, empty and random bodies are refused as not-image', async () => {
    assert.equal(
      await reason(Buffer.from('<!doctype html><html><body>Cloudflare</body></html>')),
      'not-image',
    );
    assert.equal(await reason(Buffer.from('{"error":"not found"}')), 'not-image');
    assert.equal(await reason(new Uint8Array(0)), 'not-image');
    assert.equal(await reason(Buffer.from('just some bytes that are not an image')), 'not-image');
  });

  test('a PNG cut in half is refused as truncated', shared, async () => {
    assert.equal(await reason(png.subarray(0, Math.floor(png.length / 2))), 'truncated');
  });

  test('a JPEG cut short is refused as truncated', shared, async () => {
    const jpeg = await sharp(png).jpeg({ quality: 90 }).toBuffer();
    assert.equal(await reason(jpeg.subarray(0, Math.floor(jpeg.length * 0.6))), 'truncated');
  });

  test('byte and pixel limits are enforced', shared, async () => {
    assert.equal(await reason(png, { maxBytes: 1000 }), 'too-large-bytes');
    assert.equal(await reason(png, { maxPixels: 512 * 511 }), 'too-many-pixels');
    assert.equal(await reason(png, { maxPixels: 512 * 512 }), 'ok');
  });

  test('TIFF and BMP are refused as unsupported formats', shared, async () => {
    const tiff = await sharp(png).tiff().toBuffer();
    assert.equal(await reason(tiff), 'unsupported-format');
  });
});

describe('decodeImage output', () => {
  test('EXIF orientation is applied (orientation 6 swaps width and height)', async () => {
    const src = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#f00' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const r = await decodeImage(src);
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.deepEqual([r.width, r.height, r.sourceWidth, r.sourceHeight], [20, 40, 40, 20]);
  });

  test('an animated GIF decodes to its first frame only', async () => {
    const red = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer();
    const blue = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#0000ff' } })
      .png()
      .toBuffer();
    const gif = await sharp([red, blue], { join: { animated: true } })
      .gif()
      .toBuffer();
    assert.equal((await sharp(gif, { pages: -1 }).metadata()).pages, 2);
    const r = await decodeImage(gif);
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.height, 16);
    assert.equal(r.animated, true);
    assert.ok(r.data[0]! > 200 && r.data[2]! < 50, 'first frame is red');
  });

  test('grey-scale input comes back as 3-channel sRGB', async () => {
    const grey = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
      .greyscale()
      .png()
      .toBuffer();
    const r = await decodeImage(grey);
    assert.ok(r.ok && r.channels === 3);
  });
});

describe('sniffImage', () => {
  test('recognises AVIF by its ftyp brand and HEIC as unsupported', () => {
    const box = (brand: string) =>
      Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.from(`ftyp${brand}\0\0\0\0mif1`)]);
    assert.deepEqual(sniffImage(box('avif')), { kind: 'image', format: 'avif' });
    assert.deepEqual(sniffImage(box('heic')), { kind: 'image-unsupported', format: 'heif' });
  });
});
