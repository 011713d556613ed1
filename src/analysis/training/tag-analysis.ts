import { z } from 'zod';
import { Severity } from '../audit/types.ts';
import {
  type DatasetFolder,
  parseTrainingMetadata,
  TRAINING_LIMITS,
  type TrainingTruncation,
} from './metadata.ts';
import { findSimilarTags, MAX_PAIRS } from './similar-tags.ts';
import { canonicalTag, normalizeTrainedWords, variantKey } from './tag-normalize.ts';

/**
 * Training-tag analysis of a LoRA from its kohya-ss header (`ss_tag_frequency` & co.) and the trigger
 * words on its Civitai page. Every finding has a stable rule id, a severity and the tags + counts that
 * support it. Thresholds are constants below so reports can cite them.
 */

export const TrainingTagInput = z.object({
  /** The safetensors `__metadata__` map (string → string); null when the file has none. */
  metadata: z.record(z.string(), z.unknown()).nullable().catch(null),
  trainedWordsByVersion: z
    .array(
      z.object({
        versionId: z.number(),
        versionName: z.string().catch(''),
        trainedWords: z.array(z.unknown()).catch([]),
      }),
    )
    .catch([]),
  /** The version whose file header this is; defaults to the only or the highest version id. */
  targetVersionId: z.number().optional(),
});
export type TrainingTagInput = z.input<typeof TrainingTagInput>;

export const TrainingRule = {
  GENDER_CONFLICT: 'training.contradiction.gender',
  EXCLUSIVE_CONFLICT: 'training.contradiction.exclusive',
  HAIR_COLOR_CONFLICT: 'training.contradiction.hair-color',
  EYE_COLOR_CONFLICT: 'training.contradiction.eye-color',
  TRIGGER_MISSING: 'training.trigger.missing',
  TRIGGER_FROM_CLASS_TOKEN: 'training.trigger.from-class-token',
  TRIGGER_DRIFT: 'training.trigger.drift',
  TRIGGER_OTHER_VERSION: 'training.trigger.other-version',
  TRIGGER_VERSION_CHANGED: 'training.trigger.version-changed',
  NEAR_DUPLICATE: 'training.near-duplicate',
  SIMILAR_TAGS: 'training.similar-tags',
  DUPLICATE_IN_CAPTION: 'training.duplicate-in-caption',
  FOREIGN_CHARACTER: 'training.foreign-character',
  RARE_TAGS: 'training.rare-tags',
  ALWAYS_PRESENT: 'training.always-present',
  CAPTION_AS_TAG: 'training.caption-as-tag',
  TRUNCATED: 'training.truncated',
} as const;
export type TrainingRule = (typeof TrainingRule)[keyof typeof TrainingRule];

/** Thresholds, exported so tests and report text cite the same numbers. */
export const TRAINING_THRESHOLDS = {
  /** 1girl and 1boy both on at least this share of a folder's images, the smaller ≥ 25 % of the larger. */
  genderMinShare: 0.2,
  genderMinRatio: 0.25,
  /** A folder is a single-character concept when `solo` (or 1girl/1boy) covers this share. */
  singleCharacterShare: 0.5,
  /** A hair/eye colour counts when it is on at least this share (and 2 images). */
  colorMinShare: 0.15,
  /** Trigger on fewer than this share of its folder's captions: error below 0.5, warning below 0.95. */
  triggerDriftError: 0.5,
  triggerDriftWarning: 0.95,
  /** Rare tags (count 1) and always-present tags are reported for folders with at least this many images. */
  rareMinImages: 20,
  alwaysMinImages: 10,
  /** Foreign character tags: a `name (series)` tag on at most this share (and ≤ 2 images). */
  foreignMaxShare: 0.05,
  topTags: 15,
  /** Trained words read per version (the rest are ignored). */
  maxTriggerWords: 50,
  /** "Captions use the trigger of another version" findings listed at most. */
  maxOtherVersionFindings: 20,
  /** Caption examples are cut to this many characters in the evidence. */
  captionExampleChars: 80,
} as const;

export { TRAINING_LIMITS };

const TagCount = z.object({ tag: z.string(), count: z.number() });
export const TrainingFinding = z.object({
  rule: z.string(),
  severity: Severity,
  title: z.string(),
  /** Dataset folder the finding is about; null for model-wide findings. */
  folder: z.string().nullable(),
  evidence: z.object({
    tags: z.array(TagCount),
    imageCount: z.number().nullable(),
    detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  }),
});
export type TrainingFinding = z.infer<typeof TrainingFinding>;

export const DatasetSummary = z.object({
  name: z.string(),
  repeats: z.number(),
  imageCount: z.number(),
  imageCountSource: z.enum(['ss_dataset_dirs', 'ss_datasets', 'estimated']),
  distinctTags: z.number(),
  /** imageCount × repeats: how often the folder's images are seen per epoch. */
  exposure: z.number(),
  /** The folder's tags by count (at most 10). */
  topTags: z.array(TagCount),
});
export type DatasetSummary = z.infer<typeof DatasetSummary>;

export const TrainingTagReport = z.object({
  status: z.enum(['ok', 'no-training-metadata']),
  reason: z.string().optional(),
  /** True when any warning- or error-level finding indicates a tag error. */
  flag: z.boolean(),
  /** Number of warning- and error-level findings (the `training_conflicts` column). */
  conflictCount: z.number(),
  summary: z.string(),
  targetVersionId: z.number().nullable(),
  triggerWords: z.array(z.string()),
  /** `ss_num_train_images` as written: kohya counts repeats, so this is images × repeats. */
  numTrainImages: z.number().nullable(),
  imageCount: z.number().nullable(),
  datasets: z.array(DatasetSummary),
  /** Tags over all folders (canonical spelling): caption count, share of images, repeat-weighted exposure. */
  topTags: z.array(z.object({ tag: z.string(), count: z.number(), share: z.number(), exposure: z.number() })),
  findings: z.array(TrainingFinding),
});
export type TrainingTagReport = z.infer<typeof TrainingTagReport>;

type Finding = TrainingFinding;
type Detail = Finding['evidence']['detail'];

/** Canonical tag → { count, raw spellings } for one folder. */
interface CanonicalCounts {
  counts: Map<string, number>;
  spellings: Map<string, Map<string, number>>;
}

function canonicalCounts(folder: DatasetFolder): CanonicalCounts {
  const counts = new Map<string, number>();
  const spellings = new Map<string, Map<string, number>>();
  for (const [raw, count] of folder.tags) {
    const key = canonicalTag(raw);
    if (key.length === 0) continue;
    counts.set(key, (counts.get(key) ?? 0) + count);
    const sp = spellings.get(key) ?? new Map<string, number>();
    sp.set(raw, (sp.get(raw) ?? 0) + count);
    spellings.set(key, sp);
  }
  return { counts, spellings };
}

function rawSpelling(c: CanonicalCounts | undefined, tag: string): string {
  const spellings = c?.spellings.get(tag);
  if (!spellings) return tag;
  return [...spellings].sort((a, b) => b[1] - a[1])[0]?.[0] ?? tag;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
const share = (count: number, n: number): number => (n > 0 ? round(count / n) : 0);

function finding(
  rule: TrainingRule,
  severity: Severity,
  title: string,
  folder: string | null,
  tags: Array<{ tag: string; count: number }>,
  imageCount: number | null,
  detail: Detail = {},
): Finding {
  return { rule, severity, title, folder, evidence: { tags, imageCount, detail } };
}

const MULTI_GIRLS_RE = /^(?:multiple girls|[2-9]\+?girls|6\+girls)$/;
const MULTI_BOYS_RE = /^(?:multiple boys|[2-9]\+?boys|6\+boys)$/;
const MULTI_ANY_RE =
  /^(?:multiple (?:girls|boys|others)|[2-9]\+?(?:girls|boys|others)|6\+(?:girls|boys|others))$/;

function maxMatching(counts: Map<string, number>, re: RegExp): { tag: string; count: number } | null {
  let best: { tag: string; count: number } | null = null;
  for (const [tag, count] of counts) {
    if (re.test(tag) && (best === null || count > best.count)) best = { tag, count };
  }
  return best;
}

function checkGender(folder: DatasetFolder, c: CanonicalCounts, out: Finding[]): void {
  const n = folder.imageCount;
  const girls = c.counts.get('1girl') ?? 0;
  const boys = c.counts.get('1boy') ?? 0;
  const lo = Math.min(girls, boys);
  const hi = Math.max(girls, boys);
  const t = TRAINING_THRESHOLDS;
  if (lo >= Math.max(2, t.genderMinShare * n) && lo / hi >= t.genderMinRatio) {
    out.push(
      finding(
        TrainingRule.GENDER_CONFLICT,
        'warning',
        `1girl (${girls}) and 1boy (${boys}) are both frequent in one concept`,
        folder.name,
        [
          { tag: '1girl', count: girls },
          { tag: '1boy', count: boys },
        ],
        n,
        { girlsShare: share(girls, n), boysShare: share(boys, n) },
      ),
    );
  }
}

/** Tags that cannot share a caption: if their counts add up to more than the images, some caption has both. */
function checkExclusive(folder: DatasetFolder, c: CanonicalCounts, out: Finding[]): void {
  if (folder.imageCountSource === 'estimated') return;
  const n = folder.imageCount;
  const pairs: Array<[string, RegExp]> = [
    ['solo', MULTI_ANY_RE],
    ['1girl', MULTI_GIRLS_RE],
    ['1boy', MULTI_BOYS_RE],
  ];
  for (const [single, re] of pairs) {
    const a = c.counts.get(single) ?? 0;
    const b = maxMatching(c.counts, re);
    if (a === 0 || b === null) continue;
    const overlap = a + b.count - n;
    if (overlap > 0) {
      out.push(
        finding(
          TrainingRule.EXCLUSIVE_CONFLICT,
          'error',
          `"${single}" and "${b.tag}" are both on at least ${overlap} caption(s)`,
          folder.name,
          [
            { tag: single, count: a },
            { tag: b.tag, count: b.count },
          ],
          n,
          { minCaptionsWithBoth: overlap },
        ),
      );
    }
  }
}

const COLOR_GROUP: Record<string, string> = {
  blond: 'blond',
  blonde: 'blond',
  yellow: 'blond',
  brown: 'brown',
  black: 'black',
  red: 'red',
  blue: 'blue',
  aqua: 'aqua',
  green: 'green',
  pink: 'pink',
  purple: 'purple',
  white: 'white',
  silver: 'white',
  grey: 'white',
  gray: 'white',
  orange: 'orange',
  amber: 'orange',
};
const COLOR_WORDS = Object.keys(COLOR_GROUP).join('|');
const HAIR_RE = new RegExp(`^(?:(?:light|dark) )?(${COLOR_WORDS}) hair$`);
const EYES_RE = new RegExp(`^(?:(?:light|dark) )?(${COLOR_WORDS}) eyes$`);
const EYE_COLOR_HAIR_RE =
  /^(?:multicolored hair|two-tone hair|gradient hair|streaked hair|colored inner hair)$/;

function isSingleCharacter(folder: DatasetFolder, c: CanonicalCounts): boolean {
  const n = folder.imageCount;
  if (n === 0) return false;
  const solo = c.counts.get('solo') ?? 0;
  const single = (c.counts.get('1girl') ?? 0) + (c.counts.get('1boy') ?? 0);
  const multi = maxMatching(c.counts, MULTI_ANY_RE)?.count ?? 0;
  const t = TRAINING_THRESHOLDS.singleCharacterShare;
  return (solo / n >= t || single / n >= t) && multi / n < 0.2;
}

function checkColors(
  folder: DatasetFolder,
  c: CanonicalCounts,
  re: RegExp,
  rule: TrainingRule,
  what: string,
  out: Finding[],
): void {
  const n = folder.imageCount;
  const groups = new Map<string, Array<{ tag: string; count: number }>>();
  for (const [tag, count] of c.counts) {
    const m = re.exec(tag);
    const group = m ? COLOR_GROUP[m[1] ?? ''] : undefined;
    if (group === undefined) continue;
    const list = groups.get(group) ?? [];
    list.push({ tag, count });
    groups.set(group, list);
  }
  const minCount = Math.max(2, TRAINING_THRESHOLDS.colorMinShare * n);
  const strong = [...groups.entries()]
    .map(([group, tags]) => ({ group, tags, count: Math.max(...tags.map((t) => t.count)) }))
    .filter((g) => g.count >= minCount)
    .sort((a, b) => b.count - a.count);
  if (strong.length < 2) return;
  const multicolor = [...c.counts].filter(([tag]) =>
    what === 'hair' ? EYE_COLOR_HAIR_RE.test(tag) : tag === 'heterochromia',
  );
  const multicolorCount = Math.max(0, ...multicolor.map(([, count]) => count));
  const evidence = strong.flatMap((g) => g.tags).sort((a, b) => b.count - a.count);
  out.push(
    finding(
      rule,
      multicolorCount >= minCount ? 'info' : 'warning',
      `${strong.length} different ${what} colours in a single-character concept: ${strong.map((g) => g.group).join(', ')}`,
      folder.name,
      [...evidence, ...multicolor.map(([tag, count]) => ({ tag, count }))],
      n,
      { colours: strong.length, multicolorTagCount: multicolorCount },
    ),
  );
}

function checkDuplicateInCaption(folder: DatasetFolder, out: Finding[]): void {
  if (folder.imageCountSource === 'estimated') return;
  const over = [...folder.tags]
    .filter(([, count]) => count > folder.imageCount)
    .map(([tag, count]) => ({ tag, count }));
  if (over.length === 0) return;
  out.push(
    finding(
      TrainingRule.DUPLICATE_IN_CAPTION,
      'warning',
      `${over.length} tag(s) counted more often than there are images: repeated inside captions`,
      folder.name,
      over.sort((a, b) => b.count - a.count).slice(0, 20),
      folder.imageCount,
    ),
  );
}

const GENERIC_QUALIFIERS = new Set([
  'sky',
  'planet',
  'symbol',
  'object',
  'animal',
  'food',
  'flower',
  'plant',
  'medium',
  'artwork',
  'artist',
  'style',
  'cosplay',
  'meme',
  'emoji',
  'weapon',
  'instrument',
  'vehicle',
  'company',
  'organization',
  'architecture',
  'clothing',
  'mythology',
  'nature',
  'phrase',
  'drink',
  'cloud',
  'bird',
  'fish',
  'insect',
  'creature',
  'shape',
  'pattern',
  'place',
  'location',
  'building',
  'game',
  'movie',
  'anime',
  'manga',
  'series',
  'copyright',
]);
const QUALIFIED_RE = /^(.+?) \(([^()]+)\)$/;

function wordsOf(values: Iterable<string>): Set<string> {
  const words = new Set<string>();
  for (const v of values) for (const w of canonicalTag(v).split(/[\s()]+/)) if (w.length > 2) words.add(w);
  return words;
}

function checkForeignCharacters(
  folder: DatasetFolder,
  c: CanonicalCounts,
  ownWords: Set<string>,
  out: Finding[],
): void {
  const n = folder.imageCount;
  const max = Math.max(2, TRAINING_THRESHOLDS.foreignMaxShare * n);
  const hits: Array<{ tag: string; count: number }> = [];
  for (const [tag, count] of c.counts) {
    const m = QUALIFIED_RE.exec(tag);
    if (!m || count > max || n < 10) continue;
    const qualifier = (m[2] ?? '').trim();
    if (GENERIC_QUALIFIERS.has(qualifier)) continue;
    const words = wordsOf([tag]);
    if ([...words].some((w) => ownWords.has(w))) continue;
    hits.push({ tag: [...(c.spellings.get(tag)?.keys() ?? [tag])][0] ?? tag, count });
  }
  if (hits.length === 0) return;
  out.push(
    finding(
      TrainingRule.FOREIGN_CHARACTER,
      'warning',
      `${hits.length} rare character tag(s) from other series in the captions`,
      folder.name,
      hits.sort((a, b) => a.tag.localeCompare(b.tag)),
      n,
    ),
  );
}

function checkRareAndAlways(folder: DatasetFolder, triggerSet: Set<string>, out: Finding[]): void {
  const n = folder.imageCount;
  if (n >= TRAINING_THRESHOLDS.rareMinImages) {
    const rare = [...folder.tags].filter(([, count]) => count === 1).map(([tag, count]) => ({ tag, count }));
    if (rare.length > 0) {
      out.push(
        finding(
          TrainingRule.RARE_TAGS,
          'info',
          `${rare.length} tag(s) appear on a single image out of ${n}`,
          folder.name,
          rare.sort((a, b) => a.tag.localeCompare(b.tag)).slice(0, 40),
          n,
          { rareTagCount: rare.length, rareShareOfTags: share(rare.length, folder.tags.size) },
        ),
      );
    }
  }
  if (n >= TRAINING_THRESHOLDS.alwaysMinImages && folder.imageCountSource !== 'estimated') {
    const always = [...folder.tags]
      .filter(([tag, count]) => count === n && !triggerSet.has(canonicalTag(tag)))
      .map(([tag, count]) => ({ tag, count }));
    if (always.length > 0) {
      out.push(
        finding(
          TrainingRule.ALWAYS_PRESENT,
          'info',
          `${always.length} tag(s) on every image; consider pruning them into the trigger`,
          folder.name,
          always,
          n,
        ),
      );
    }
  }
}

/** Near-duplicates: different header spellings with one variant key (underscore/space, blond/blonde…). */
function checkNearDuplicates(folders: DatasetFolder[], out: Finding[]): void {
  // Folders share most tags: each spelling's key is computed once.
  const keys = new Map<string, string>();
  const keyOf = (raw: string): string => {
    let key = keys.get(raw);
    if (key === undefined) {
      key = variantKey(raw);
      keys.set(raw, key);
    }
    return key;
  };
  const byKey = new Map<string, Map<string, number>>();
  for (const folder of folders) {
    for (const [raw, count] of folder.tags) {
      const key = keyOf(raw);
      const spellings = byKey.get(key) ?? new Map<string, number>();
      spellings.set(raw, (spellings.get(raw) ?? 0) + count);
      byKey.set(key, spellings);
    }
  }
  for (const [key, spellings] of byKey) {
    if (spellings.size < 2) continue;
    const tags = [...spellings].map(([tag, count]) => ({ tag, count })).sort((a, b) => b.count - a.count);
    out.push(
      finding(
        TrainingRule.NEAR_DUPLICATE,
        'warning',
        `${tags.length} spellings of one tag: ${tags.map((t) => `"${t.tag}"`).join(', ')}`,
        null,
        tags,
        null,
        { variantKey: key },
      ),
    );
  }

  // One-edit neighbours (typos, singular/plural) are reported as info: Danbooru has many legitimate
  // pairs such as "clenched hand" / "clenched hands".
  const counts = new Map<string, number>();
  for (const folder of folders) {
    for (const [raw, count] of folder.tags) {
      const key = keyOf(raw);
      counts.set(key, (counts.get(key) ?? 0) + count);
    }
  }
  const similar = findSimilarTags([...counts.keys()]);
  const pairs = similar.pairs;
  if (pairs.length === 0) return;
  const list = [...pairs].sort((p, q) => p[0].localeCompare(q[0])).slice(0, 20);
  const more = similar.capped ? '+' : '';
  out.push(
    finding(
      TrainingRule.SIMILAR_TAGS,
      'info',
      `${pairs.length}${more} pair(s) of tags one edit apart (typo or singular/plural?)`,
      null,
      list.flatMap(([x, y]) => [
        { tag: x, count: counts.get(x) ?? 0 },
        { tag: y, count: counts.get(y) ?? 0 },
      ]),
      null,
      similar.capped
        ? { pairs: pairs.length, pairsCapped: true, maxPairs: MAX_PAIRS }
        : { pairs: pairs.length },
    ),
  );
}

const cut = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;

/** Entries too long to be tags: the folder was captioned in sentences (info, not a tag error). */
function checkCaptions(folders: DatasetFolder[], out: Finding[]): void {
  for (const folder of folders) {
    const captions = folder.captions;
    if (captions === null) continue;
    out.push(
      finding(
        TrainingRule.CAPTION_AS_TAG,
        'info',
        `${captions.distinct} caption(s) used as tags (entries over ${TRAINING_LIMITS.maxTagLength} characters), not analysed as tags`,
        folder.name,
        captions.examples.map((e) => ({
          tag: cut(e.text, TRAINING_THRESHOLDS.captionExampleChars),
          count: e.count,
        })),
        folder.imageCount,
        {
          captionEntries: captions.distinct,
          captionOccurrences: captions.occurrences,
          longestChars: captions.longest,
          maxTagLength: TRAINING_LIMITS.maxTagLength,
        },
      ),
    );
  }
}

/** What the header had beyond the analysis limits (TRAINING_LIMITS). */
function checkTruncation(t: TrainingTruncation, out: Finding[]): void {
  if (t.foldersSeen === t.foldersKept && t.tagsSeen === t.tagsKept) return;
  out.push(
    finding(
      TrainingRule.TRUNCATED,
      'info',
      `Header too large: analysed ${t.foldersKept} of ${t.foldersSeen} folder(s) and the ${t.tagsKept} most frequent of ${t.tagsSeen} tag(s)`,
      null,
      [],
      null,
      {
        foldersSeen: t.foldersSeen,
        foldersAnalysed: t.foldersKept,
        tagsSeen: t.tagsSeen,
        tagsAnalysed: t.tagsKept,
        maxFolders: TRAINING_LIMITS.maxFolders,
        maxTags: TRAINING_LIMITS.maxTags,
      },
    ),
  );
}

interface VersionWords {
  versionId: number;
  versionName: string;
  words: string[];
}

function checkTriggers(
  folders: DatasetFolder[],
  canon: Map<DatasetFolder, CanonicalCounts>,
  target: VersionWords | null,
  versions: VersionWords[],
  out: Finding[],
): void {
  const sorted = [...versions].sort((a, b) => a.versionId - b.versionId);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as VersionWords;
    const cur = sorted[i] as VersionWords;
    if (prev.words.length === 0 || cur.words.length === 0) continue;
    const prevWords = new Set(prev.words);
    const curWords = new Set(cur.words);
    const added = cur.words.filter((w) => !prevWords.has(w));
    const removed = prev.words.filter((w) => !curWords.has(w));
    if (added.length === 0 && removed.length === 0) continue;
    out.push(
      finding(
        TrainingRule.TRIGGER_VERSION_CHANGED,
        'info',
        `Trained words changed from "${prev.versionName}" to "${cur.versionName}"`,
        null,
        [],
        null,
        {
          fromVersionId: prev.versionId,
          toVersionId: cur.versionId,
          added: added.join(', '),
          removed: removed.join(', '),
        },
      ),
    );
  }
  if (target === null) return;

  const allCaptionTags = new Map<string, number>();
  for (const c of canon.values()) {
    for (const [tag, count] of c.counts) allCaptionTags.set(tag, (allCaptionTags.get(tag) ?? 0) + count);
  }
  const classTokens = new Set(folders.flatMap((f) => f.classTokens.map(canonicalTag)));
  const classTokenWords = new Set([...classTokens].flatMap((t) => t.split(' ')));
  const targetWords = new Set(target.words);
  // The other versions' trained words used in the captions: the same for every missing trigger.
  const others = versions
    .filter((v) => v.versionId !== target.versionId)
    .flatMap((v) => v.words.filter((w) => !targetWords.has(w)).map((w) => ({ v, w })))
    .filter(({ w }) => (allCaptionTags.get(w) ?? 0) > 0);
  let otherFindings = 0;
  for (const word of target.words) {
    let best: { folder: DatasetFolder; count: number } | null = null;
    for (const folder of folders) {
      const count = canon.get(folder)?.counts.get(word) ?? 0;
      if (count === 0) continue;
      const s = count / Math.max(1, folder.imageCount);
      if (best === null || s > best.count / Math.max(1, best.folder.imageCount)) best = { folder, count };
    }
    if (best === null) {
      if (classTokens.has(word) || classTokenWords.has(word)) {
        out.push(
          finding(
            TrainingRule.TRIGGER_FROM_CLASS_TOKEN,
            'info',
            `Trigger "${word}" is not in the captions but matches a folder/class token`,
            null,
            [{ tag: word, count: 0 }],
            null,
            { classTokens: [...classTokens].join(', ') },
          ),
        );
        continue;
      }
      const near = [...allCaptionTags]
        .filter(([tag]) => tag.includes(word) || (tag.length >= 4 && word.includes(tag) && tag !== word))
        .filter(([tag]) => tag.split(' ').some((w) => word.split(' ').includes(w)))
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([tag, count]) => ({ tag, count }));
      out.push(
        finding(
          TrainingRule.TRIGGER_MISSING,
          'error',
          `Trigger word "${word}" of "${target.versionName}" is not in any training caption`,
          null,
          [{ tag: word, count: 0 }, ...near],
          null,
          { nearMatches: near.map((t) => t.tag).join(', ') },
        ),
      );
      for (const { v, w } of others) {
        if (otherFindings >= TRAINING_THRESHOLDS.maxOtherVersionFindings) break;
        otherFindings += 1;
        out.push(
          finding(
            TrainingRule.TRIGGER_OTHER_VERSION,
            'warning',
            `Captions use "${w}", the trigger of "${v.versionName}", instead of "${word}"`,
            null,
            [
              { tag: w, count: allCaptionTags.get(w) ?? 0 },
              { tag: word, count: 0 },
            ],
            null,
            { otherVersionId: v.versionId, targetVersionId: target.versionId },
          ),
        );
      }
      continue;
    }
    const n = best.folder.imageCount;
    const s = n > 0 ? best.count / n : 1;
    const missing = n - best.count;
    const t = TRAINING_THRESHOLDS;
    if (s < t.triggerDriftError || (s < t.triggerDriftWarning && missing >= 2)) {
      out.push(
        finding(
          TrainingRule.TRIGGER_DRIFT,
          s < t.triggerDriftError ? 'error' : 'warning',
          `Trigger "${word}" is on ${best.count} of ${n} captions (${Math.round(s * 100)} %) in "${best.folder.name}"`,
          best.folder.name,
          [{ tag: rawSpelling(canon.get(best.folder), word), count: best.count }],
          n,
          {
            share: round(s),
            captionsWithout: missing,
            keepTokens: best.folder.keepTokens,
            shuffleCaption: best.folder.shuffleCaption,
          },
        ),
      );
    }
  }
}

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

function pickTarget(versions: VersionWords[], targetVersionId: number | undefined): VersionWords | null {
  if (versions.length === 0) return null;
  if (targetVersionId !== undefined) return versions.find((v) => v.versionId === targetVersionId) ?? null;
  return [...versions].sort((a, b) => b.versionId - a.versionId)[0] ?? null;
}

function emptyReport(reason: string, target: VersionWords | null): TrainingTagReport {
  return {
    status: 'no-training-metadata',
    reason,
    flag: false,
    conflictCount: 0,
    summary: `No training metadata: ${reason}`,
    targetVersionId: target?.versionId ?? null,
    triggerWords: target?.words ?? [],
    numTrainImages: null,
    imageCount: null,
    datasets: [],
    topTags: [],
    findings: [],
  };
}

function summarize(report: Omit<TrainingTagReport, 'summary'>, tags: number): string {
  const folders = report.datasets.length;
  const head = `${report.imageCount ?? '?'} images in ${folders} folder${folders === 1 ? '' : 's'}, ${tags} tags`;
  const serious = report.findings.filter((f) => f.severity !== 'info');
  if (serious.length === 0) return `${head}; no tag conflicts found.`;
  const titles = serious.slice(0, 3).map((f) => f.title);
  const more = serious.length > 3 ? ` (+${serious.length - 3} more)` : '';
  return `${head}; ${serious.length} tag conflict${serious.length === 1 ? '' : 's'}: ${titles.join('; ')}${more}.`;
}

/**
 * Analyses training tags from a LoRA header and the page's trigger words; a missing or malformed
 * header gives `status: 'no-training-metadata'`, never a throw.
 */
export function analyzeTrainingTags(input: TrainingTagInput): TrainingTagReport {
  const parsedInput = TrainingTagInput.safeParse(input ?? {});
  const data = parsedInput.success
    ? parsedInput.data
    : { metadata: null, trainedWordsByVersion: [], targetVersionId: undefined };
  const versions: VersionWords[] = data.trainedWordsByVersion.map((v) => ({
    versionId: v.versionId,
    versionName: v.versionName || `version ${v.versionId}`,
    words: normalizeTrainedWords(v.trainedWords, TRAINING_THRESHOLDS.maxTriggerWords),
  }));
  const target = pickTarget(versions, data.targetVersionId);
  const parsed = parseTrainingMetadata(data.metadata);
  if (!parsed.ok) return emptyReport(parsed.reason, target);

  const { folders, numTrainImages, truncation } = parsed.value;
  const canon = new Map(folders.map((f) => [f, canonicalCounts(f)] as const));
  const triggerSet = new Set(target?.words ?? []);
  const ownWords = wordsOf([...(target?.words ?? []), ...folders.flatMap((f) => f.classTokens)]);
  const findings: Finding[] = [];

  checkTriggers(folders, canon, target, versions, findings);
  for (const folder of folders) {
    const c = canon.get(folder) as CanonicalCounts;
    checkGender(folder, c, findings);
    checkExclusive(folder, c, findings);
    if (isSingleCharacter(folder, c)) {
      checkColors(folder, c, HAIR_RE, TrainingRule.HAIR_COLOR_CONFLICT, 'hair', findings);
      checkColors(folder, c, EYES_RE, TrainingRule.EYE_COLOR_CONFLICT, 'eye', findings);
    }
    checkDuplicateInCaption(folder, findings);
    checkForeignCharacters(folder, c, ownWords, findings);
    checkRareAndAlways(folder, triggerSet, findings);
  }
  checkNearDuplicates(folders, findings);
  checkCaptions(folders, findings);
  checkTruncation(truncation, findings);
  findings.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]);

  const imageCount = folders.reduce((sum, f) => sum + f.imageCount, 0);
  const overall = new Map<string, { count: number; exposure: number }>();
  for (const folder of folders) {
    for (const [tag, count] of (canon.get(folder) as CanonicalCounts).counts) {
      const entry = overall.get(tag) ?? { count: 0, exposure: 0 };
      entry.count += count;
      entry.exposure += count * folder.repeats;
      overall.set(tag, entry);
    }
  }
  const topTags = [...overall]
    .sort((a, b) => b[1].count - a[1].count || a[0].localeCompare(b[0]))
    .slice(0, TRAINING_THRESHOLDS.topTags)
    .map(([tag, v]) => ({ tag, count: v.count, share: share(v.count, imageCount), exposure: v.exposure }));
  const datasets: DatasetSummary[] = folders.map((f) => ({
    name: f.name,
    repeats: f.repeats,
    imageCount: f.imageCount,
    imageCountSource: f.imageCountSource,
    distinctTags: f.tags.size,
    exposure: f.imageCount * f.repeats,
    topTags: [...f.tags]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, 10)
      .map(([tag, count]) => ({ tag, count })),
  }));
  const conflictCount = findings.filter((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK.warning).length;
  const base = {
    status: 'ok' as const,
    flag: conflictCount > 0,
    conflictCount,
    targetVersionId: target?.versionId ?? null,
    triggerWords: target?.words ?? [],
    numTrainImages,
    imageCount,
    datasets,
    topTags,
    findings,
  };
  return { ...base, summary: summarize(base, overall.size) };
}

/** Report columns the audit maps into metrics.csv. */
export function trainingReportColumns(report: TrainingTagReport): {
  tag_error_training: boolean;
  training_conflicts: number;
} {
  return { tag_error_training: report.flag, training_conflicts: report.conflictCount };
}
