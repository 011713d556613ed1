import { access } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CLIP_MODEL_FILES, type ClipVariant } from '../clip/scorer.ts';
import { BUNDLED_CLIP_VOCAB_PATH } from '../clip/tokenizer.ts';

export type ClipModelAvailability = { ok: true } | { ok: false; missing: string[]; sentence: string };

/**
 * Whether the CLIP towers of `variant` are in `modelDir` (and the shipped vocabulary is in place); when not, the one sentence the audit prints
 * (and writes to its outputs) before continuing without image–prompt matching.
 */
export async function clipModelAvailability(
  modelDir: string,
  variant: ClipVariant = 'fp32',
): Promise<ClipModelAvailability> {
  // The BPE vocabulary ships with loralens; only the ONNX towers come from `npm run models`.
  const paths = [
    join(modelDir, CLIP_MODEL_FILES[variant].vision),
    join(modelDir, CLIP_MODEL_FILES[variant].text),
    BUNDLED_CLIP_VOCAB_PATH,
  ];
  const missing: string[] = [];
  for (const p of paths) {
    try {
      await access(p);
    } catch {
      missing.push(basename(p));
    }
  }
  if (missing.length === 0) return { ok: true };
  return {
    ok: false,
    missing,
    sentence: `CLIP image–prompt matching was skipped because model files are missing (${missing.join(', ')}): run \`npm run models\`.`,
  };
}
