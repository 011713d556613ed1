import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { pilBicubicResizeWindow, type RawImage } from '../../src/analysis/images/pil-resample.ts';
import { RESAMPLE_WASM_SOURCE_SHA256 } from '../../src/analysis/images/wasm/resample-wasm.generated.ts';
import { resampleWasm } from '../../src/analysis/images/wasm/resample-wasm.ts';

const image = fc
  .record({
    width: fc.integer({ min: 1, max: 160 }),
    height: fc.integer({ min: 1, max: 160 }),
    channels: fc.constantFrom(3, 4),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .map(({ width, height, channels, seed }): RawImage => {
    // Mostly smooth with hard edges and extremes, so clipping at 0 and 255 is exercised.
    const data = new Uint8Array(width * height * channels);
    let s = seed;
    for (let i = 0; i < data.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const r = s >>> 24;
      data[i] = r < 40 ? 0 : r > 215 ? 255 : r;
    }
    return { data, width, height, channels };
  });

const resizeCase = image.chain((img) =>
  fc
    .record({ outWidth: fc.integer({ min: 1, max: 200 }), outHeight: fc.integer({ min: 1, max: 200 }) })
    .chain(({ outWidth, outHeight }) =>
      fc
        .record({
          left: fc.integer({ min: 0, max: outWidth - 1 }),
          top: fc.integer({ min: 0, max: outHeight - 1 }),
        })
        .chain(({ left, top }) =>
          fc.record({
            img: fc.constant(img),
            win: fc.record({
              outWidth: fc.constant(outWidth),
              outHeight: fc.constant(outHeight),
              left: fc.constant(left),
              top: fc.constant(top),
              width: fc.integer({ min: 1, max: outWidth - left }),
              height: fc.integer({ min: 1, max: outHeight - top }),
            }),
          }),
        ),
    ),
);

interface PillowCase {
  width: number;
  height: number;
  channels: 3 | 4;
  seed: number;
  outWidth: number;
  outHeight: number;
  left: number;
  top: number;
  winWidth: number;
  winHeight: number;
  sha256: string;
}
// Pillow 9.4.0 resize(BICUBIC) + crop for 188 geometries; provenance in tests/fixtures/images/PROVENANCE.md.
const pillow = JSON.parse(
  readFileSync(new URL('../fixtures/images/pil-resample-reference.json', import.meta.url), 'utf8'),
) as { pillow: string; cases: PillowCase[] };

/** The generator make_pil_resample_reference.py uses (32-bit LCG, extremes clipped). */
function lcgImage(c: PillowCase): RawImage {
  const data = new Uint8Array(c.width * c.height * c.channels);
  let s = c.seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const r = s >>> 24;
    data[i] = r < 40 ? 0 : r > 215 ? 255 : r;
  }
  return { data, width: c.width, height: c.height, channels: c.channels };
}

describe('resampling equals Pillow byte for byte', () => {
  for (const backend of ['js', 'wasm'] as const) {
    test(`${backend}: ${pillow.cases.length} random geometries (up/down, both/one/no pass, edge windows)`, () => {
      const wrong: string[] = [];
      for (const c of pillow.cases) {
        const out = pilBicubicResizeWindow(
          lcgImage(c),
          {
            outWidth: c.outWidth,
            outHeight: c.outHeight,
            left: c.left,
            top: c.top,
            width: c.winWidth,
            height: c.winHeight,
          },
          backend,
        );
        const hash = createHash('sha256').update(out.data).digest('hex');
        if (hash !== c.sha256)
          wrong.push(`${c.width}×${c.height}×${c.channels} → ${c.outWidth}×${c.outHeight}`);
      }
      assert.deepEqual(wrong, []);
    });
  }
});

describe('WebAssembly SIMD resampling', () => {
  test('this runtime compiles the module', () => {
    assert.notEqual(resampleWasm(), null);
  });

  test('gives the same bytes as the JS port of Pillow (which the golden tensors pin) for any window', () => {
    fc.assert(
      fc.property(resizeCase, ({ img, win }) => {
        const js = pilBicubicResizeWindow(img, { ...win }, 'js');
        const wasm = pilBicubicResizeWindow(img, { ...win }, 'wasm');
        assert.equal(wasm.width, win.width);
        assert.equal(wasm.height, win.height);
        assert.deepEqual(wasm.data, js.data);
      }),
      { numRuns: 300, seed: 20261125 },
    );
  });

  test('large images go through in strips and memory reuse leaves no stale bytes', () => {
    const width = 1200;
    const height = 1800;
    const data = new Uint8Array(width * height * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + (i >> 7)) & 255;
    const big: RawImage = { data, width, height, channels: 3 };
    const win = { outWidth: 224, outHeight: 336, left: 0, top: 56, width: 224, height: 224 };
    const js = pilBicubicResizeWindow(big, win, 'js');
    assert.deepEqual(pilBicubicResizeWindow(big, win, 'wasm').data, js.data);
    const small: RawImage = {
      data: new Uint8Array(30 * 20 * 4).fill(200),
      width: 30,
      height: 20,
      channels: 4,
    };
    const smallWin = { outWidth: 12, outHeight: 8, left: 0, top: 0, width: 12, height: 8 };
    assert.deepEqual(
      pilBicubicResizeWindow(small, smallWin, 'wasm').data,
      pilBicubicResizeWindow(small, smallWin, 'js').data,
    );
    assert.deepEqual(pilBicubicResizeWindow(big, win, 'wasm').data, js.data);
  });

  test('windows outside the resized image, bad channel counts and short buffers are refused by both backends', () => {
    const img: RawImage = { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4, channels: 3 };
    const ok = { outWidth: 2, outHeight: 2, left: 0, top: 0, width: 2, height: 2 };
    for (const backend of ['js', 'wasm'] as const) {
      for (const win of [
        { ...ok, top: 30 },
        { ...ok, left: 1 },
        { ...ok, width: 0 },
        { ...ok, outWidth: 0 },
        { ...ok, left: -1 },
        { ...ok, height: 1.5 },
      ]) {
        assert.throws(() => pilBicubicResizeWindow(img, win, backend), /out of range/, JSON.stringify(win));
      }
      assert.throws(() => pilBicubicResizeWindow({ ...img, channels: 1 }, ok, backend), /out of range/);
      assert.throws(
        () => pilBicubicResizeWindow({ ...img, data: new Uint8Array(5) }, ok, backend),
        /out of range/,
      );
      assert.equal(pilBicubicResizeWindow(img, ok, backend).data.length, 12);
    }
  });

  test('the embedded module was built from the current resample.c (run `npm run build:wasm` after editing it)', () => {
    const source = readFileSync(new URL('../../src/analysis/images/wasm/resample.c', import.meta.url));
    assert.equal(createHash('sha256').update(source).digest('hex'), RESAMPLE_WASM_SOURCE_SHA256);
  });
});
