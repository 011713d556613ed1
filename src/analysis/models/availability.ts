import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIP_MODEL_FILES, CLIP_VOCAB_FILE, type ClipVariant } from '../clip/scorer.ts';

export type ClipModelAvailability = { ok: true } | { ok: false; missing: string[]; sentence: string };

/**
 * Whether the CLIP files of `variant` are in `modelDir`; when not, the one sentence the audit prints
 * (and writes to its outputs) before continuing without image–prompt matching.
 */
export async function clipModelAvailability(
  modelDir: string,
  variant: ClipVariant = 'fp32',
): Promise<ClipModelAvailability> {
  const files = [CLIP_MODEL_FILES[variant].vision, CLIP_MODEL_FILES[variant].text, CLIP_VOCAB_FILE];
  const missing: string[] = [];
  for (const f of files) {
    try {
      await access(join(modelDir, f));
    } catch {
      missing.push(f);
    }
  }
  if (missing.length === 0) return { ok: true };
  return {
    ok: false,
    missing,
    sentence: `CLIP image–prompt matching was skipped because model files are missing (${missing.join(', ')}): run \`npm run models\`.`,
  };
}
