/** CLIP settings shared by the scorer and the configuration (no onnxruntime import here). */

/**
 * Default images per onnxruntime run of the vision tower. `npm run bench clip` picks the batch size
 * with the best median of 3 bare `session.run` measurements on the machine it runs on and prints them;
 * with the ViT-B/32 surrogates on the 2-core reference machine batch 8 beats batch 1 by about 1.4×
 * and batch 16 by a few per cent (30.9 vs 22.6 vs 29.6 img/s medians). 8 keeps the per-batch wait short.
 */
export const CLIP_DEFAULT_BATCH = 8;

/**
 * Default prompt windows per onnxruntime run of the text tower, measured apart from the image batch
 * (`npm run bench clip` prints bare text runs of the audit's prompt mix at 8, 16 and 32 windows and
 * picks one the same way). On the 2-core reference machine, windows of one fixed length run 5–9 %
 * faster at 16 than at 8, but on the audit mix (half full windows, half short last windows, sorted by
 * length) a larger batch also pads more: 55.0, 54.7 and 47.4 windows/s at 8, 16 and 32. So 8.
 */
export const CLIP_DEFAULT_TEXT_BATCH = 8;
