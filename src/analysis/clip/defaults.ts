/** CLIP settings shared by the scorer and the configuration (no onnxruntime import here). */

/**
 * Default images per onnxruntime run. `npm run bench clip` picks the batch size with the best median
 * of 3 bare `session.run` measurements on the machine it runs on and prints them; with the ViT-B/32
 * surrogates on the 2-core reference machine (shared, load ≈ 22) batches of 8 and 16 both beat
 * batch 1 by 2–3× (1.3 vs 2.5 vs 3.6 img/s median, wide spread). 8 keeps the per-batch wait short.
 */
export const CLIP_DEFAULT_BATCH = 8;
