import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { AppError, ErrorCode } from '../errors.ts';

const tensorSpecSchema = z.object({
  name: z.string().min(1),
  dtype: z.enum(['float32', 'int64']),
  shape: z.array(z.union([z.number().int().positive(), z.string().min(1)])),
});

export const modelFileSchema = z
  .object({
    id: z.string().min(1),
    /** Plain file name inside the models directory. */
    file: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a plain file name'),
    url: z.url({ protocol: /^https?$/ }),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .nullable(),
    size: z.number().int().positive().nullable(),
    /** False when the sha256 is not known in advance: verification then needs trust on first use. */
    pinned: z.boolean(),
    /** Shipped inside the package (assets/models), so `npm run models` verifies it and never downloads it. */
    bundled: z.boolean().default(false),
    licence: z.string().min(1),
    groups: z.array(z.string().min(1)).min(1),
    inputs: z.array(tensorSpecSchema),
    outputs: z.array(tensorSpecSchema),
  })
  .refine((f) => f.pinned === (f.sha256 !== null), {
    message: 'pinned must be true exactly when sha256 is set',
  });
export type ModelFile = z.infer<typeof modelFileSchema>;

export const modelManifestSchema = z.object({
  version: z.literal(1),
  notes: z.string().optional(),
  files: z.array(modelFileSchema).min(1),
});
export type ModelManifest = z.infer<typeof modelManifestSchema>;

/** Read and validate a model manifest. Throws CONFIG_INVALID when it is missing or malformed. */
export async function loadModelManifest(path: string): Promise<ModelManifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new AppError(ErrorCode.CONFIG_INVALID, `Cannot read model manifest ${path}`, {
      cause,
      details: { path },
    });
  }
  const parsed = modelManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new AppError(ErrorCode.CONFIG_INVALID, `Model manifest ${path} is invalid`, {
      details: { path, issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) },
    });
  }
  return parsed.data;
}

/** Manifest entries of the given groups (e.g. `fp32`, `quantized`; `all` for every file). */
export function selectModelFiles(manifest: ModelManifest, group: string): ModelFile[] {
  return group === 'all' ? manifest.files : manifest.files.filter((f) => f.groups.includes(group));
}
