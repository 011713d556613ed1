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

/**
 * Bounds on what one header can make the analysis do (any uploader writes `ss_tag_frequency`):
 * - a "tag" longer than `maxTagLength` characters is a caption (natural-language captioning), counted
 *   and reported as such, never compared as a tag;
 * - at most `maxFolders` dataset folders (the first ones in the header) and `maxTags` tags over all
 *   of them (the most frequent; ties in header order) are analysed; the rest is reported as truncated.
 */
export const TRAINING_LIMITS = {
  maxTagLength: 100,
  maxFolders: 100,
  maxTags: 20_000,
} as const;

/** Caption-like entries of one folder: entries over TRAINING_LIMITS.maxTagLength characters. */
export interface CaptionEntries {
  /** Distinct entries and the captions they are counted on. */
  distinct: number;
  occurrences: number;
  /** Length of the longest entry. */
  longest: number;
  /** The most frequent entries (at most 3, first met on ties), untruncated. */
  examples: Array<{ text: string; count: number }>;
}

/** What the limits cut from the header. */
export interface TrainingTruncation {
  foldersSeen: number;
  foldersKept: number;
  tagsSeen: number;
  tagsKept: number;
}

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
  /** Raw header tag → count of captions containing it (captions and truncated tags left out). */
  tags: Map<string, number>;
  captions: CaptionEntries | null;
}

export interface ParsedTrainingMetadata {
  folders: DatasetFolder[];
  /** `ss_num_train_images`: kohya counts every repeat, so this is images × repeats. */
  numTrainImages: number | null;
  truncation: TrainingTruncation;
}

export type ParseResult = { ok: true; value: ParsedTrainingMetadata } | { ok: false; reason: string };

/** Counts, repeats and image counts above this are not real (no dataset has a billion images). */
const MAX_COUNT = 1e9;

/** A whole number from 0 to {@link MAX_COUNT}, else null: sums and products of them stay finite. */
function toInt(value: unknown): number | null {
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_COUNT ? n : null;
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

function maxCount(tags: Map<string, number>): number {
  let max = 0;
  for (const count of tags.values()) if (count > max) max = count;
  return max;
}

/** Moves entries over maxTagLength out of `tags` into a caption summary. */
function splitCaptions(tags: Map<string, number>): CaptionEntries | null {
  let captions: CaptionEntries | null = null;
  for (const [text, count] of tags) {
    if (text.length <= TRAINING_LIMITS.maxTagLength) continue;
    tags.delete(text);
    captions ??= { distinct: 0, occurrences: 0, longest: 0, examples: [] };
    captions.distinct += 1;
    captions.occurrences += count;
    captions.longest = Math.max(captions.longest, text.length);
    captions.examples.push({ text, count });
    captions.examples.sort((a, b) => b.count - a.count);
    if (captions.examples.length > 3) captions.examples.pop();
  }
  return captions;
}

/** Keeps the maxTags most frequent tags over all folders (ties in header order), in header order. */
function capTags(folders: DatasetFolder[]): number {
  let total = 0;
  for (const folder of folders) total += folder.tags.size;
  if (total <= TRAINING_LIMITS.maxTags) return total;
  const counts: number[] = [];
  for (const folder of folders) for (const count of folder.tags.values()) counts.push(count);
  counts.sort((a, b) => b - a);
  const threshold = counts[TRAINING_LIMITS.maxTags - 1] as number;
  // Everything above the threshold count stays; entries at the threshold stay in header order.
  let atThreshold = TRAINING_LIMITS.maxTags - counts.filter((c) => c > threshold).length;
  for (const folder of folders) {
    for (const [tag, count] of folder.tags) {
      if (count > threshold) continue;
      if (count === threshold && atThreshold > 0) atThreshold -= 1;
      else folder.tags.delete(tag);
    }
  }
  return total;
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
  // Merged in place: copying the folder's counts for every dataset that repeats it was quadratic.
  const merged = new Map<string, Record<string, unknown>>();
  for (const entry of list.data) {
    const dataset = Dataset.safeParse(entry);
    if (!dataset.success) continue;
    const freq = TagFrequency.safeParse(dataset.data.tag_frequency);
    if (!freq.success) continue;
    for (const [dir, counts] of Object.entries(freq.data)) {
      const into = merged.get(dir);
      if (into) {
        // defineProperty, not assignment: a `__proto__` tag is a tag, not the object's prototype.
        for (const [tag, count] of Object.entries(counts)) {
          Object.defineProperty(into, tag, {
            value: count,
            writable: true,
            enumerable: true,
            configurable: true,
          });
        }
      } else merged.set(dir, { ...counts });
    }
  }
  return merged.size > 0 ? Object.fromEntries(merged) : null;
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
  const entries = Object.entries(frequency);
  for (const [name, rawCounts] of entries.slice(0, TRAINING_LIMITS.maxFolders)) {
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
      imageCount = maxCount(tags);
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
      captions: splitCaptions(tags),
    });
  }
  if (folders.length === 0 || folders.every((f) => f.tags.size === 0 && f.captions === null)) {
    return { ok: false, reason: 'The ss_tag_frequency header entry lists no tags.' };
  }
  const tagsSeen = capTags(folders);
  let tagsKept = 0;
  for (const folder of folders) tagsKept += folder.tags.size;
  const truncation = { foldersSeen: entries.length, foldersKept: folders.length, tagsSeen, tagsKept };
  return { ok: true, value: { folders, numTrainImages: toInt(str('ss_num_train_images')), truncation } };
}
