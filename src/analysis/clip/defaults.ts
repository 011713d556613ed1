/** CLIP settings shared by the scorer and the configuration (no onnxruntime import here). */

/**
 * Default images per onnxruntime run: the fastest bare `session.run` batch in `npm run bench` on the
 * reference 2-core machine (8: 42 img/s, 16: 41, 32: 40, 1: 30 with ViT-B/32-cost surrogates).
 */
export const CLIP_DEFAULT_BATCH = 8;
