/**
 * The tag-error report detector's model: a logistic regression over {@link extractFeatures}
 * (frames, character n-grams, words, language), trained by scripts/train-text-detector.ts on the
 * development corpora and calibrated by Platt scaling on out-of-fold scores, so a score of 0.8 is
 * meant to be right about 80 % of the time. The weights file is committed with the script that made
 * it; every score can be explained by its strongest sentence and the features that fired there.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError, ErrorCode } from '../../errors.ts';
import { extractFeatures, gramKey, gramName, type TextFeatures } from './features.ts';

export const DetectorModelFile = z.object({
  schemaVersion: z.literal(1),
  /** What it was trained on, for provenance (files, counts, hyper-parameters, CV figures). */
  training: z.record(z.string(), z.unknown()),
  bias: z.number(),
  platt: z.object({ a: z.number(), c: z.number() }),
  /**
   * Feature name → weight. Checked in one loop: `z.record(z.string(), z.number())` made a schema call per
   * entry, 0.1 s of loading the 68 000-weight model in every process.
   */
  weights: z.custom<Record<string, number>>(
    (v) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
      const weights = v as Record<string, unknown>;
      // for…in, not Object.values: on a 68 000-key object the latter alone took 65 ms.
      for (const name in weights) {
        const w = weights[name];
        if (typeof w !== 'number' || !Number.isFinite(w)) return false;
      }
      return true;
    },
    { message: 'expected an object of finite numbers' },
  ),
});
export type DetectorModelFile = z.infer<typeof DetectorModelFile>;

/**
 * n-gram weights by numeric key in an open-addressing table (linear probing): scoring looks up every
 * gram of every text, and this is several times faster than a Map. Key and weight share one slot of
 * one Float64Array ([key, weight] pairs; keys are small non-negative integers, exact as doubles), so
 * a lookup touches one cache line, not one in a key array and another in a weight array — at 60 000+
 * weights the table is larger than the L2 cache and most lookups miss it.
 */
export class GramTable {
  private readonly slots: Float64Array;
  private readonly mask: number;

  constructor(entries: ReadonlyMap<number, number>) {
    let capacity = 16;
    while (capacity < entries.size * 2) capacity *= 2;
    this.slots = new Float64Array(capacity * 2);
    for (let i = 0; i < capacity; i++) this.slots[2 * i] = -1;
    this.mask = capacity - 1;
    for (const [key, value] of entries) {
      let i = key & this.mask;
      while (this.slots[2 * i] !== -1) i = (i + 1) & this.mask;
      this.slots[2 * i] = key;
      this.slots[2 * i + 1] = value;
    }
  }

  /** The weight of `key` (a non-negative small integer), 0 when absent. */
  get(key: number): number {
    const slots = this.slots;
    let i = key & this.mask;
    for (;;) {
      const k = slots[2 * i]!;
      if (k === key) return slots[2 * i + 1]!;
      if (k === -1) return 0;
      i = (i + 1) & this.mask;
    }
  }
}

/** A loaded model: named weights and n-gram weights by numeric key. */
export interface DetectorModel {
  file: DetectorModelFile;
  named: Map<string, number>;
  grams: GramTable;
}

export function compileModel(file: DetectorModelFile): DetectorModel {
  const named = new Map<string, number>();
  const grams = new Map<number, number>();
  const weights = file.weights;
  for (const name in weights) {
    const w = weights[name]!;
    const key = gramKey(name);
    if (key === undefined) named.set(name, w);
    else grams.set(key, (grams.get(key) ?? 0) + w);
  }
  return { file, named, grams: new GramTable(grams) };
}

export interface Contribution {
  feature: string;
  value: number;
}

export interface DetectorScore {
  /** Calibrated probability that the text reports a training-tag error. */
  score: number;
  /** The raw linear score before calibration. */
  logit: number;
  features: TextFeatures;
  /** Index of the sentence with the largest positive contribution (-1 when none). */
  bestSentence: number;
  /** The strongest contributions w·x of that sentence, by absolute value. */
  explanation: Contribution[];
  /** Each n-gram occurrence's weight (parallel to `features.grams.keys`). */
  gramWeights: Float64Array;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Normalised characters at the end of the best sentence whose n-grams name the explanation. */
const EXPLAIN_WINDOW = 240;

/** How many n-grams of the best sentence are named in an explanation (the strongest by |w·x|). */
const EXPLAIN_GRAMS = 8;

/** Scratch table for {@link explainWithModel}'s per-gram sums; every used slot is reset to -1 after use. */
interface GramSums {
  keys: Int32Array;
  values: Float64Array;
  first: Int32Array;
  touched: Int32Array;
  mask: number;
}
let scratch: GramSums | undefined;
function gramSums(grams: number): GramSums {
  let size = 64;
  while (size < grams * 2) size *= 2;
  if (!scratch || scratch.keys.length < size) {
    scratch = {
      keys: new Int32Array(size).fill(-1),
      values: new Float64Array(size),
      first: new Int32Array(size),
      touched: new Int32Array(size),
      mask: size - 1,
    };
  }
  return scratch;
}

/**
 * Scores one text with `model`; with `explain`, also explains it by its strongest sentence (see
 * {@link explainWithModel}). Linear in the text.
 */
export function scoreWithModel(model: DetectorModel, text: string, explain = true): DetectorScore {
  const features = extractFeatures(text);
  let z = model.file.bias;
  for (const name of features.named.keys()) z += model.named.get(name) ?? 0;
  const { keys } = features.grams;
  const scale = features.gramScale;
  const weights = new Float64Array(keys.length);
  let gramSum = 0;
  for (let i = 0; i < keys.length; i++) {
    const w = model.grams.get(keys[i]!);
    weights[i] = w;
    gramSum += w;
  }
  z += gramSum * scale;
  const score = sigmoid(model.file.platt.a * z + model.file.platt.c);
  const scored = { score, logit: z, features, bestSentence: -1, explanation: [], gramWeights: weights };
  return explain ? explainWithModel(model, scored) : scored;
}

/**
 * The sentence with the largest positive contribution and the strongest contributions there: its
 * frame features by name and its {@link EXPLAIN_GRAMS} strongest n-grams (summed per gram, named only
 * once chosen, among the last {@link EXPLAIN_WINDOW} characters), added to a score made with
 * `explain = false` (same features, no rescoring). Linear in the text: the per-sentence sums walk the
 * n-grams in position order.
 */
export function explainWithModel(model: DetectorModel, scored: DetectorScore): DetectorScore {
  const { features, gramWeights: weights } = scored;
  const { keys, pos } = features.grams;
  const scale = features.gramScale;
  const { sentences } = features;
  const nS = Math.max(1, sentences.length);
  const positive = new Float64Array(nS);
  for (const [name, si] of features.named) {
    const w = model.named.get(name) ?? 0;
    if (w > 0 && !name.startsWith('lang:')) positive[Math.min(si, nS - 1)]! += w;
  }
  // Grams come in two runs (characters, then words), each ordered by position: one pointer each.
  let si = 0;
  let last = -1;
  for (let i = 0; i < keys.length; i++) {
    const p = pos[i]!;
    if (p < last) si = 0;
    last = p;
    while (si < sentences.length - 1 && p >= sentences[si]!.end) si++;
    if (weights[i]! > 0) positive[si]! += weights[i]! * scale;
  }
  let best = -1;
  for (let k = 0; k < nS; k++) if (positive[k]! > 0 && (best < 0 || positive[k]! > positive[best]!)) best = k;
  if (best < 0) return scored;

  const explanation: Contribution[] = [];
  for (const [name, s] of features.named) {
    const w = model.named.get(name);
    if (w !== undefined && w !== 0 && Math.min(s, nS - 1) === best && !name.startsWith('lang:')) {
      explanation.push({ feature: name, value: w });
    }
  }
  const sentence = sentences[best] ?? { start: 0, end: features.norm.text.length };
  const from = Math.max(sentence.start, sentence.end - EXPLAIN_WINDOW);
  // Sum per gram key (a gram may occur more than once) in a small reused open-addressing table, then
  // keep the EXPLAIN_GRAMS largest sums by |value| in a short ordered list: no per-gram objects.
  const sums = gramSums(keys.length);
  const touched = sums.touched;
  let n = 0;
  for (let i = 0; i < keys.length; i++) {
    const p = pos[i]!;
    if (p < from || p >= sentence.end || weights[i] === 0) continue;
    const key = keys[i]!;
    let slot = key & sums.mask;
    while (sums.keys[slot] !== -1 && sums.keys[slot] !== key) slot = (slot + 1) & sums.mask;
    if (sums.keys[slot] === -1) {
      sums.keys[slot] = key;
      sums.values[slot] = 0;
      sums.first[slot] = i;
      touched[n++] = slot;
    }
    sums.values[slot]! += weights[i]! * scale;
  }
  const top: Array<{ value: number; index: number }> = [];
  for (let j = 0; j < n; j++) {
    const slot = touched[j]!;
    const value = sums.values[slot]!;
    const index = sums.first[slot]!;
    sums.keys[slot] = -1;
    if (top.length === EXPLAIN_GRAMS && Math.abs(value) <= Math.abs(top[top.length - 1]!.value)) continue;
    let at = top.length;
    while (at > 0 && Math.abs(top[at - 1]!.value) < Math.abs(value)) at--;
    top.splice(at, 0, { value, index });
    if (top.length > EXPLAIN_GRAMS) top.pop();
  }
  for (const g of top) explanation.push({ feature: gramName(features, g.index), value: g.value });
  explanation.sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  return { ...scored, bestSentence: best, explanation };
}

let cached: DetectorModel | undefined;
let fingerprint: string | undefined;

// assets/ sits beside src/ and dist/, so the same relative path works from both.
const DEFAULT_MODEL_URL = new URL('../../../../assets/text-detector/model.json', import.meta.url);

function readDefaultModelText(): string {
  try {
    return readFileSync(DEFAULT_MODEL_URL, 'utf8');
  } catch (cause) {
    throw new AppError(
      ErrorCode.MODEL_INVALID,
      `cannot read the text detector model ${DEFAULT_MODEL_URL.pathname}`,
      { cause },
    );
  }
}

/**
 * sha256 of the committed model file, without parsing it: part of the key of stored text results, so a
 * retrained model never reuses an old model's verdicts. Throws MODEL_INVALID when the file is unreadable.
 */
export function defaultDetectorModelFingerprint(): string {
  fingerprint ??= createHash('sha256').update(readDefaultModelText(), 'utf8').digest('hex');
  return fingerprint;
}

/** The committed model (assets/text-detector/model.json), parsed once. Throws MODEL_INVALID. */
export function defaultDetectorModel(): DetectorModel {
  if (cached) return cached;
  let raw: unknown;
  try {
    raw = JSON.parse(readDefaultModelText());
  } catch (cause) {
    if (cause instanceof AppError) throw cause;
    throw new AppError(
      ErrorCode.MODEL_INVALID,
      `cannot read the text detector model ${DEFAULT_MODEL_URL.pathname}`,
      { cause },
    );
  }
  const parsed = DetectorModelFile.safeParse(raw);
  if (!parsed.success) {
    throw new AppError(ErrorCode.MODEL_INVALID, `text detector model is malformed: ${parsed.error.message}`);
  }
  cached = compileModel(parsed.data);
  return cached;
}
