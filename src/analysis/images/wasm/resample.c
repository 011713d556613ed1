/*
 * Pillow's 8-bit fixed-point resampling passes (libImaging/Resample.c, ImagingResampleHorizontal_8bpc
 * and ImagingResampleVertical_8bpc) with WebAssembly SIMD. Same integer arithmetic, same rounding,
 * same clipping, so the bytes equal Pillow's and the JS fallback in ../pil-resample.ts.
 *
 * Built by `npm run build:wasm` (scripts/build-wasm.ts) with clang --target=wasm32 -msimd128; the
 * result is embedded in resample-wasm.generated.ts. Buffers are laid out by the caller in linear
 * memory; every buffer read 16 bytes at a time has at least 16 bytes of slack after it.
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define PRECISION_BITS (32 - 8 - 2)
#define HALF (1 << (PRECISION_BITS - 1))

/* Pillow clip8 for four lanes: (v >> 22) clamped to 0..255 equals Pillow's branches for int v. */
static inline v128_t clip8x4(v128_t acc) {
  v128_t s = wasm_i32x4_shr(acc, PRECISION_BITS);
  return wasm_i32x4_min(wasm_i32x4_max(s, wasm_i32x4_splat(0)), wasm_i32x4_splat(255));
}

static inline v128_t load_pixel(const uint8_t *p) {
  /* Four bytes (RGB + the next byte, or RGBA) widened to four int32 lanes. */
  v128_t b = wasm_v128_load32_zero(p);
  return wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(b));
}

/*
 * Horizontal pass: `rows` rows of `src` (stride `in_stride` bytes, `ch` = 3 or 4 channels) to `out_w`
 * pixels per row in `dst` (stride out_w*ch). For output x: taps start at input pixel bounds[2x],
 * count bounds[2x+1], weights kk[x*ksize ...].
 */
__attribute__((export_name("horizontal"))) void horizontal(const uint8_t *src, int32_t in_stride,
                                                            int32_t rows, int32_t ch,
                                                            const int32_t *bounds, const int32_t *kk,
                                                            int32_t ksize, int32_t out_w, uint8_t *dst) {
  for (int32_t y = 0; y < rows; y++) {
    const uint8_t *line = src + (intptr_t)y * in_stride;
    uint8_t *out = dst + (intptr_t)y * out_w * ch;
    for (int32_t x = 0; x < out_w; x++) {
      const int32_t xmin = bounds[2 * x];
      const int32_t xmax = bounds[2 * x + 1];
      const int32_t *k = kk + (intptr_t)x * ksize;
      const uint8_t *p = line + (intptr_t)xmin * ch;
      v128_t acc = wasm_i32x4_splat(HALF);
      for (int32_t t = 0; t < xmax; t++, p += ch) {
        acc = wasm_i32x4_add(acc, wasm_i32x4_mul(load_pixel(p), wasm_i32x4_splat(k[t])));
      }
      v128_t c = clip8x4(acc);
      out[0] = (uint8_t)wasm_i32x4_extract_lane(c, 0);
      out[1] = (uint8_t)wasm_i32x4_extract_lane(c, 1);
      out[2] = (uint8_t)wasm_i32x4_extract_lane(c, 2);
      if (ch == 4) out[3] = (uint8_t)wasm_i32x4_extract_lane(c, 3);
      out += ch;
    }
  }
}

/*
 * Vertical pass: output row y of `dst` (row_len bytes) is the weighted sum of input rows
 * bounds[2y] .. bounds[2y]+bounds[2y+1]-1 of `src` (row_len bytes each). Sixteen bytes per step;
 * the last step of a row may spill into the next row of dst, which is written afterwards (dst has
 * 16 bytes of slack for the last row).
 */
__attribute__((export_name("vertical"))) void vertical(const uint8_t *src, int32_t row_len,
                                                        const int32_t *bounds, const int32_t *kk,
                                                        int32_t ksize, int32_t out_h, uint8_t *dst) {
  for (int32_t y = 0; y < out_h; y++) {
    const int32_t ymin = bounds[2 * y];
    const int32_t ymax = bounds[2 * y + 1];
    const int32_t *k = kk + (intptr_t)y * ksize;
    uint8_t *out = dst + (intptr_t)y * row_len;
    for (int32_t j = 0; j < row_len; j += 16) {
      v128_t a0 = wasm_i32x4_splat(HALF), a1 = a0, a2 = a0, a3 = a0;
      const uint8_t *p = src + (intptr_t)ymin * row_len + j;
      for (int32_t t = 0; t < ymax; t++, p += row_len) {
        const v128_t w = wasm_i32x4_splat(k[t]);
        const v128_t b = wasm_v128_load(p);
        const v128_t lo = wasm_u16x8_extend_low_u8x16(b);
        const v128_t hi = wasm_u16x8_extend_high_u8x16(b);
        a0 = wasm_i32x4_add(a0, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(lo), w));
        a1 = wasm_i32x4_add(a1, wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(lo), w));
        a2 = wasm_i32x4_add(a2, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(hi), w));
        a3 = wasm_i32x4_add(a3, wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(hi), w));
      }
      const v128_t n0 = wasm_i16x8_narrow_i32x4(clip8x4(a0), clip8x4(a1));
      const v128_t n1 = wasm_i16x8_narrow_i32x4(clip8x4(a2), clip8x4(a3));
      wasm_v128_store(out + j, wasm_u8x16_narrow_i16x8(n0, n1));
    }
  }
}
