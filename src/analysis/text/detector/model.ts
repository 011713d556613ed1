/**
 * The tag-error report detector's model: a logistic regression over {@link extractFeatures}
 * (frames, character n-grams, words, language), trained by scripts/train-text-detector.ts on the
 * development corpora and calibrated by Platt scaling on out-of-fold scores, so a score of 0.8 is
 * meant to be right about 80 % of the time. The weights file is committed with the script that made
 * it; every score can be explained by its strongest sentence and the features that fired there.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError, ErrorCode } from '../../errors.ts';
import { extractFeatures, gramKey, gramName, sentenceIndexAt, type TextFeatures } from './features.ts';

export const DetectorModelFile = z.object({
  schemaVersion: z.literal(1),
  /** What it was trained on, for provenance (files, counts, hyper-parameters, CV figures). */
  training: z.record(z.string(), z.unknown()),
  bias: z.number(),
  platt: z.object({ a: z.number(), c: z.number() }),
  weights: z.record(z.string(), z.number()),
});
export type DetectorModelFile = z.infer<typeof DetectorModelFile>;

/** A loaded model: named weights and n-gram weights by numeric key. */
export interface DetectorModel {
  file: DetectorModelFile;
  named: Map<string, number>;
  grams: Map<number, number>;
}

export function compileModel(file: DetectorModelFile): DetectorModel {
  const named = new Map<string, number>();
  const grams = new Map<number, number>();
  for (const [name, w] of Object.entries(file.weights)) {
    const key = gramKey(name);
    if (key === undefined) named.set(name, w);
    else grams.set(key, (grams.get(key) ?? 0) + w);
  }
  return { file, named, grams };
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
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Scores one text with `model`; explains it by its strongest sentence. */
export function scoreWithModel(model: DetectorModel, text: string, explain = true): DetectorScore {
  const features = extractFeatures(text);
  let z = model.file.bias;
  for (const name of features.named.keys()) z += model.named.get(name) ?? 0;
  const { keys, pos } = features.grams;
  const scale = features.gramScale;
  for (let i = 0; i < keys.length; i++) z += (model.grams.get(keys[i]!) ?? 0) * scale;
  const score = sigmoid(model.file.platt.a * z + model.file.platt.c);
  if (!explain) return { score, logit: z, features, bestSentence: -1, explanation: [] };

  const nS = Math.max(1, features.sentences.length);
  const positive = new Float64Array(nS);
  const perSentence: Map<string, number>[] = Array.from({ length: nS }, () => new Map());
  const note = (si: number, name: string, v: number): void => {
    if (v > 0) positive[si]! += v;
    const m = perSentence[si]!;
    m.set(name, (m.get(name) ?? 0) + v);
  };
  for (const [name, si] of features.named) {
    const w = model.named.get(name);
    if (w !== undefined && w !== 0 && !name.startsWith('lang:')) note(Math.min(si, nS - 1), name, w);
  }
  for (let i = 0; i < keys.length; i++) {
    const w = model.grams.get(keys[i]!);
    if (w === undefined || w === 0) continue;
    const si = features.sentences.length === 0 ? 0 : sentenceIndexAt(features.sentences, pos[i]!);
    note(si, gramName(features, i), w * scale);
  }
  let best = -1;
  for (let si = 0; si < nS; si++)
    if (positive[si]! > 0 && (best < 0 || positive[si]! > positive[best]!)) best = si;
  const explanation =
    best < 0
      ? []
      : [...perSentence[best]!]
          .map(([feature, value]) => ({ feature, value }))
          .sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  return { score, logit: z, features, bestSentence: best, explanation };
}

let cached: DetectorModel | undefined;

/** The committed model (assets/text-detector/model.json), parsed once. Throws MODEL_INVALID. */
export function defaultDetectorModel(): DetectorModel {
  if (cached) return cached;
  // assets/ sits beside src/ and dist/, so the same relative path works from both.
  const url = new URL('../../../../assets/text-detector/model.json', import.meta.url);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(url, 'utf8'));
  } catch (cause) {
    throw new AppError(ErrorCode.MODEL_INVALID, `cannot read the text detector model ${url.pathname}`, {
      cause,
    });
  }
  const parsed = DetectorModelFile.safeParse(raw);
  if (!parsed.success) {
    throw new AppError(ErrorCode.MODEL_INVALID, `text detector model is malformed: ${parsed.error.message}`);
  }
  cached = compileModel(parsed.data);
  return cached;
}
