import { z } from 'zod';

/**
 * Reads the dataset part of a kohya-ss `__metadata__` map (every value a string; nested data is JSON
 * encoded as a string). See shared/docs/civitai-api.md §4 for the two code paths (`ss_datasets` with a
 * dataset config, legacy `ss_dataset_dirs` + `ss_tag_frequency`).
 */

const TagCounts = z.record(z.string(), z.unknown());
const TagFrequency = z.record(z.string(), TagCounts);
const DatasetDirs = z.record(
  z.string(),
  z.looseObject({ n_repeats: z.unknown().optional(), img_count: z.unknown().optional() }),
);
const Subset = z.looseObject({
  img_count: z.unknown().optional(),
  num_repeats: z.unknown().optional(),
  image_dir: z.unknown().optional(),
  class_tokens: z.unknown().optional(),
  is_reg: z.unknown().optional(),
  keep_tokens: z.unknown().optional(),
  shuffle_caption: z.unknown().optional(),
});
const Dataset = z.looseObject({
  tag_frequency: z.unknown().optional(),
  subsets: z.array(z.unknown()).optional(),
  num_train_images: z.unknown().optional(),
});
const Datasets = z.array(z.unknown());

export type ImageCountSource = 'ss_dataset_dirs' | 'ss_datasets' | 'estimated';

/** One dataset folder (a kohya DreamBooth "concept"). */
export interface DatasetFolder {
  name: string;
  /** Repeats per epoch (`n_repeats`, `num_repeats`, or the `10_` prefix of the folder name); 1 if unknown. */
  repeats: number;
  /** Images (caption files) in the folder; estimated as the largest tag count when the header lacks it. */
  imageCount: number;
  imageCountSource: ImageCountSource;
  /** The name of an `N_name` folder and kohya `class_tokens`: a trigger may come from these. */
  classTokens: string[];
  keepTokens: number | null;
  shuffleCaption: boolean | null;
  /** Raw header tag → count of captions containing it. */
  tags: Map<string, number>;
}

export interface ParsedTrainingMetadata {
  folders: DatasetFolder[];
  /** `ss_num_train_images`: kohya counts every repeat, so this is images × repeats. */
  numTrainImages: number | null;
}

export type ParseResult = { ok: true; value: ParsedTrainingMetadata } | { ok: false; reason: string };

function toInt(value: unknown): number | null {
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : null;
}

function parseJson(text: string | undefined): { ok: true; value: unknown } | { ok: false } {
  if (text === undefined) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

const REPEAT_PREFIX_RE = /^(\d+)_(.*)$/s;

function basename(path: string): string {
  const parts = path.split(/[\\/]+/).filter((p) => p.length > 0);
  return parts.at(-1) ?? path;
}

function countsOf(raw: Record<string, unknown>): Map<string, number> {
  const tags = new Map<string, number>();
  for (const [tag, value] of Object.entries(raw)) {
    const count = toInt(value);
    if (count !== null && count > 0 && tag.trim().length > 0) tags.set(tag, (tags.get(tag) ?? 0) + count);
  }
  return tags;
}

interface SubsetInfo {
  imgCount: number | null;
  repeats: number | null;
  classTokens: string | null;
  keepTokens: number | null;
  shuffleCaption: boolean | null;
}

function collectSubsets(datasets: unknown): Map<string, SubsetInfo> {
  const out = new Map<string, SubsetInfo>();
  const list = Datasets.safeParse(datasets);
  if (!list.success) return out;
  for (const entry of list.data) {
    const dataset = Dataset.safeParse(entry);
    if (!dataset.success) continue;
    for (const rawSubset of dataset.data.subsets ?? []) {
      const subset = Subset.safeParse(rawSubset);
      if (!subset.success || subset.data.is_reg === true || typeof subset.data.image_dir !== 'string')
        continue;
      out.set(basename(subset.data.image_dir), {
        imgCount: toInt(subset.data.img_count),
        repeats: toInt(subset.data.num_repeats),
        classTokens: typeof subset.data.class_tokens === 'string' ? subset.data.class_tokens : null,
        keepTokens: toInt(subset.data.keep_tokens),
        shuffleCaption: typeof subset.data.shuffle_caption === 'boolean' ? subset.data.shuffle_caption : null,
      });
    }
  }
  return out;
}

function tagFrequencyFromDatasets(datasets: unknown): Record<string, Record<string, unknown>> | null {
  const list = Datasets.safeParse(datasets);
  if (!list.success) return null;
  const merged: Record<string, Record<string, unknown>> = {};
  let found = false;
  for (const entry of list.data) {
    const dataset = Dataset.safeParse(entry);
    if (!dataset.success) continue;
    const freq = TagFrequency.safeParse(dataset.data.tag_frequency);
    if (!freq.success) continue;
    for (const [dir, counts] of Object.entries(freq.data)) {
      merged[dir] = { ...(merged[dir] ?? {}), ...counts };
      found = true;
    }
  }
  return found ? merged : null;
}

/** Parses the dataset folders and their tag counts; a missing or malformed header is a reason, not a throw. */
export function parseTrainingMetadata(metadata: Record<string, unknown> | null | undefined): ParseResult {
  if (
    metadata === null ||
    metadata === undefined ||
    typeof metadata !== 'object' ||
    Array.isArray(metadata)
  ) {
    return { ok: false, reason: 'The model file has no metadata header.' };
  }
  const str = (key: string): string | undefined => {
    const v = metadata[key];
    return typeof v === 'string' ? v : undefined;
  };

  const datasetsJson = parseJson(str('ss_datasets'));
  const datasets = datasetsJson.ok ? datasetsJson.value : null;
  let frequency: Record<string, Record<string, unknown>> | null = null;
  const tagFreqText = str('ss_tag_frequency');
  const tagFreqJson = parseJson(tagFreqText);
  if (tagFreqJson.ok) {
    const parsed = TagFrequency.safeParse(tagFreqJson.value);
    if (parsed.success) frequency = parsed.data;
  }
  frequency ??= tagFrequencyFromDatasets(datasets);
  if (frequency === null) {
    if (tagFreqText !== undefined) {
      return { ok: false, reason: 'The ss_tag_frequency header entry is not valid tag-count JSON.' };
    }
    const trainer = Object.keys(metadata).some((k) => k.startsWith('ss_'))
      ? 'The header has kohya keys but no ss_tag_frequency (trained with --no_metadata or without captions).'
      : 'The header has no kohya training metadata (ss_tag_frequency).';
    return { ok: false, reason: trainer };
  }

  const dirsJson = parseJson(str('ss_dataset_dirs'));
  const dirs = dirsJson.ok ? DatasetDirs.safeParse(dirsJson.value) : null;
  const dirInfo = dirs?.success ? dirs.data : {};
  const subsets = collectSubsets(datasets);

  const folders: DatasetFolder[] = [];
  for (const [name, rawCounts] of Object.entries(frequency)) {
    const tags = countsOf(rawCounts);
    const dir = dirInfo[name];
    const subset = subsets.get(name);
    const prefix = REPEAT_PREFIX_RE.exec(name);
    const repeats = toInt(dir?.n_repeats) ?? subset?.repeats ?? (prefix ? toInt(prefix[1]) : null) ?? 1;
    let imageCount = toInt(dir?.img_count);
    let imageCountSource: ImageCountSource = 'ss_dataset_dirs';
    if (imageCount === null || imageCount === 0) {
      imageCount = subset?.imgCount ?? null;
      imageCountSource = 'ss_datasets';
    }
    if (imageCount === null || imageCount === 0) {
      imageCount = Math.max(0, ...tags.values());
      imageCountSource = 'estimated';
    }
    const classTokens: string[] = [];
    // kohya's legacy `N_name` folders use `name` as the class token of caption-less images.
    const bare = prefix ? (prefix[2] ?? '') : '';
    if (bare.trim().length > 0) classTokens.push(bare);
    if (subset?.classTokens) classTokens.push(subset.classTokens);
    folders.push({
      name,
      repeats: Math.max(1, repeats),
      imageCount,
      imageCountSource,
      classTokens,
      keepTokens: subset?.keepTokens ?? null,
      shuffleCaption: subset?.shuffleCaption ?? null,
      tags,
    });
  }
  if (folders.length === 0 || folders.every((f) => f.tags.size === 0)) {
    return { ok: false, reason: 'The ss_tag_frequency header entry lists no tags.' };
  }
  return { ok: true, value: { folders, numTrainImages: toInt(str('ss_num_train_images')) } };
}
