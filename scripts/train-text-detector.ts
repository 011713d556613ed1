/**
 * Trains the text detector (src/analysis/text/detector) and writes assets/text-detector/model.json.
 *
 *   npx tsx scripts/train-text-detector.ts [--check]
 *
 * Data: the development corpora tests/fixtures/text-dev/*.jsonl and tests/fixtures/text-eval/*.jsonl
 * (never the blind sets in tests/fixtures/text-blind). Model: L2-regularised logistic regression over
 * frame features, character 2–4-grams and words (n-grams kept when they occur in ≥ 2 texts),
 * trained by full-batch gradient descent with a fixed number of steps (deterministic). Calibration:
 * Platt scaling fitted on 5-fold out-of-fold logits; the script prints cross-validated P/R/F1 per
 * language and a reliability table. `--check` trains and compares with the committed file instead
 * of writing it (exit 1 when they differ).
 *
 * Baseline: LORALENS_TRAIN_FEATURES=ngrams trains the same model on the character n-grams and words
 * alone (no frames, cues, language or position features) — the strongest simple baseline that
 * `npm run bench text-blind` sets beside the detector. Write it elsewhere with `--out FILE`.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { extractFeatures, gramName } from '../src/analysis/text/detector/features.ts';
import type { DetectorModelFile } from '../src/analysis/text/detector/model.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const outArg = process.argv.indexOf('--out');
const OUT =
  outArg > 0 ? resolve(process.argv[outArg + 1]!) : join(root, 'assets', 'text-detector', 'model.json');
const DIRS = [join(root, 'tests', 'fixtures', 'text-dev'), join(root, 'tests', 'fixtures', 'text-eval')];

const Item = z.object({
  id: z.string(),
  lang: z.string(),
  text: z.string(),
  label: z.union([z.literal(0), z.literal(1)]),
  /** The kind of report or hard negative, where the corpus names it (corpora A–E; not text-eval). */
  phenomenon: z.string().optional(),
});
type Item = z.infer<typeof Item>;

const HYPER = {
  /** L2 on n-gram weights (many, style-bound) and on named frame features (few, meant to generalise). */
  l2: 3e-6,
  l2Named: 1e-4,
  steps: 2500,
  learningRate: 2,
  minDocFreq: 2,
  folds: 5,
  seed: 20261129,
  // Exploration only (LORALENS_TRAIN_HYPER='{"l2":1e-3}'); the committed model uses the values above.
  ...(process.env.LORALENS_TRAIN_HYPER ? (JSON.parse(process.env.LORALENS_TRAIN_HYPER) as object) : {}),
};

function load(): { items: Item[]; files: Record<string, string> } {
  const items: Item[] = [];
  const files: Record<string, string> = {};
  for (const dir of DIRS) {
    for (const f of readdirSync(dir)
      .filter((x) => x.endsWith('.jsonl'))
      .sort()) {
      const text = readFileSync(join(dir, f), 'utf8');
      files[`${dir.slice(root.length + 1)}/${f}`] = createHash('sha256').update(text).digest('hex');
      for (const line of text.split('\n')) if (line.trim()) items.push(Item.parse(JSON.parse(line)));
    }
  }
  return { items, files };
}

interface Row {
  idx: Int32Array;
  val: Float64Array;
}

function vectorise(feats: Map<string, number>[], vocab: Map<string, number>): Row[] {
  return feats.map((f) => {
    const idx: number[] = [];
    const val: number[] = [];
    for (const [name, v] of f) {
      const i = vocab.get(name);
      if (i !== undefined) {
        idx.push(i);
        val.push(v);
      }
    }
    return { idx: Int32Array.from(idx), val: Float64Array.from(val) };
  });
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Full-batch gradient descent on the mean log-loss + l2/2‖w‖² (the bias is not penalised). */
function train(
  rows: Row[],
  labels: number[],
  dim: number,
  named: Uint8Array,
): { w: Float64Array; b: number } {
  const w = new Float64Array(dim);
  let b = 0;
  const n = rows.length;
  const grad = new Float64Array(dim);
  // Adagrad-style per-coordinate step sizes make the plain steps converge on sparse features.
  const g2 = new Float64Array(dim).fill(1e-8);
  let gb2 = 1e-8;
  for (let step = 0; step < HYPER.steps; step++) {
    grad.fill(0);
    let gb = 0;
    for (let r = 0; r < n; r++) {
      const { idx, val } = rows[r]!;
      let z = b;
      for (let k = 0; k < idx.length; k++) z += w[idx[k]!]! * val[k]!;
      const e = sigmoid(z) - labels[r]!;
      gb += e;
      for (let k = 0; k < idx.length; k++) grad[idx[k]!]! += e * val[k]!;
    }
    for (let j = 0; j < dim; j++) {
      const g = grad[j]! / n + (named[j] ? HYPER.l2Named : HYPER.l2) * w[j]!;
      g2[j]! += g * g;
      w[j]! -= (HYPER.learningRate * g) / Math.sqrt(g2[j]!);
    }
    gb /= n;
    gb2 += gb * gb;
    b -= (HYPER.learningRate * gb) / Math.sqrt(gb2);
  }
  return { w, b };
}

function logit(row: Row, w: Float64Array, b: number): number {
  let z = b;
  for (let k = 0; k < row.idx.length; k++) z += w[row.idx[k]!]! * row.val[k]!;
  return z;
}

/** Platt scaling: fit p = σ(a·z + c) to labels by Newton's method on the log-loss. */
function platt(z: number[], y: number[]): { a: number; c: number } {
  let a = 1;
  let c = 0;
  for (let it = 0; it < 100; it++) {
    let ga = 0;
    let gc = 0;
    let haa = 1e-9;
    let hac = 0;
    let hcc = 1e-9;
    for (let i = 0; i < z.length; i++) {
      const p = sigmoid(a * z[i]! + c);
      const e = p - y[i]!;
      const s = p * (1 - p);
      ga += e * z[i]!;
      gc += e;
      haa += s * z[i]! * z[i]!;
      hac += s * z[i]!;
      hcc += s;
    }
    const det = haa * hcc - hac * hac;
    const da = (hcc * ga - hac * gc) / det;
    const dc = (haa * gc - hac * ga) / det;
    a -= da;
    c -= dc;
    if (Math.abs(da) + Math.abs(dc) < 1e-10) break;
  }
  return { a, c };
}

function seededOrder(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

function buildVocab(feats: Map<string, number>[], rowsIn: number[]): Map<string, number> {
  const df = new Map<string, number>();
  for (const r of rowsIn) for (const name of feats[r]!.keys()) df.set(name, (df.get(name) ?? 0) + 1);
  const vocab = new Map<string, number>();
  for (const [name, count] of [...df].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const ngram = name.startsWith('c:') || name.startsWith('w:');
    if (!ngram || count >= HYPER.minDocFreq) vocab.set(name, vocab.size);
  }
  return vocab;
}

function fit(feats: Map<string, number>[], labels: number[], rowsIn: number[]) {
  const vocab = buildVocab(feats, rowsIn);
  const rows = vectorise(
    rowsIn.map((r) => feats[r]!),
    vocab,
  );
  const named = new Uint8Array(vocab.size);
  for (const [name, i] of vocab) if (!name.startsWith('c:') && !name.startsWith('w:')) named[i] = 1;
  const model = train(
    rows,
    rowsIn.map((r) => labels[r]!),
    vocab.size,
    named,
  );
  return { vocab, ...model };
}

function prf(pairs: Array<{ y: number; p: number }>, threshold = 0.5) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const { y, p } of pairs) {
    const f = p >= threshold;
    if (f && y === 1) tp++;
    else if (f) fp++;
    else if (y === 1) fn++;
  }
  const P = tp + fp === 0 ? 1 : tp / (tp + fp);
  const R = tp + fn === 0 ? 1 : tp / (tp + fn);
  return { P: +P.toFixed(3), R: +R.toFixed(3), F1: +(P + R === 0 ? 0 : (2 * P * R) / (P + R)).toFixed(3) };
}

const { items, files } = load();
/** The training view of a text: feature name → value, exactly what the model sums at inference. */
const FEATURES = z.enum(['all', 'ngrams']).parse(process.env.LORALENS_TRAIN_FEATURES ?? 'all');
function featureMap(text: string): Map<string, number> {
  const f = extractFeatures(text);
  const out = new Map<string, number>();
  if (FEATURES === 'all') for (const name of f.named.keys()) out.set(name, 1);
  for (let i = 0; i < f.grams.keys.length; i++) {
    const name = gramName(f, i);
    out.set(name, (out.get(name) ?? 0) + f.gramScale);
  }
  return out;
}
const feats = items.map((it) => featureMap(it.text));
const labels = items.map((it) => it.label);

// Cross-validation: out-of-fold logits for calibration and honest development figures.
const order = seededOrder(items.length, HYPER.seed);
const fold = new Int32Array(items.length);
order.forEach((row, k) => {
  fold[row] = k % HYPER.folds;
});
const oof = new Array<number>(items.length).fill(0);
for (let f = 0; f < HYPER.folds; f++) {
  const trainRows = items.map((_, i) => i).filter((i) => fold[i] !== f);
  const testRows = items.map((_, i) => i).filter((i) => fold[i] === f);
  const m = fit(feats, labels, trainRows);
  const testVec = vectorise(
    testRows.map((r) => feats[r]!),
    m.vocab,
  );
  testRows.forEach((r, k) => {
    oof[r] = logit(testVec[k]!, m.w, m.b);
  });
}
const calibration = platt(oof, labels);
const cvPairs = items.map((it, i) => ({
  lang: it.lang,
  y: it.label,
  p: sigmoid(calibration.a * oof[i]! + calibration.c),
}));
// Error analysis on development data only: LORALENS_TRAIN_OOF=file writes each text's out-of-fold score.
if (process.env.LORALENS_TRAIN_OOF) {
  writeFileSync(
    process.env.LORALENS_TRAIN_OOF,
    items
      .map((it, i) =>
        JSON.stringify({
          id: it.id,
          lang: it.lang,
          label: it.label,
          p: +cvPairs[i]!.p.toFixed(4),
          text: it.text,
        }),
      )
      .join('\n'),
  );
}
const langs = [...new Set(items.map((i) => i.lang))].sort();
console.log(`${items.length} texts; ${HYPER.folds}-fold cross-validated, calibrated at 0.5`);
for (const lang of [...langs, 'all']) {
  const pairs = lang === 'all' ? cvPairs : cvPairs.filter((p) => p.lang === lang);
  console.log(`  ${lang.padEnd(4)} n=${String(pairs.length).padStart(4)} ${JSON.stringify(prf(pairs))}`);
}
console.log('reliability (out-of-fold): bin, n, mean score, observed positive rate');
const reliability: Array<{ bin: string; n: number; meanScore: number; observed: number }> = [];
for (let b = 0; b < 10; b++) {
  const inBin = cvPairs.filter((p) => p.p >= b / 10 && (p.p < (b + 1) / 10 || (b === 9 && p.p <= 1)));
  if (inBin.length === 0) continue;
  const mean = inBin.reduce((s, p) => s + p.p, 0) / inBin.length;
  const obs = inBin.reduce((s, p) => s + p.y, 0) / inBin.length;
  reliability.push({
    bin: `${b / 10}-${(b + 1) / 10}`,
    n: inBin.length,
    meanScore: +mean.toFixed(3),
    observed: +obs.toFixed(3),
  });
  console.log(
    `  ${b / 10}-${(b + 1) / 10}  n=${inBin.length}  mean ${mean.toFixed(3)}  observed ${obs.toFixed(3)}`,
  );
}

// Final model on everything.
const all = items.map((_, i) => i);
const final = fit(feats, labels, all);
const weights: Record<string, number> = {};
for (const [name, i] of [...final.vocab].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
  const w = final.w[i]!;
  if (Math.abs(w) >= 1e-3) weights[name] = Math.round(w * 1e4) / 1e4;
}
const model: DetectorModelFile = {
  schemaVersion: 1,
  training: {
    script: 'scripts/train-text-detector.ts',
    ...(FEATURES === 'all' ? {} : { features: FEATURES }),
    files,
    texts: items.length,
    positives: labels.reduce<number>((s, y) => s + y, 0),
    hyper: HYPER,
    crossValidated: Object.fromEntries(
      [...langs, 'all'].map((lang) => [
        lang,
        prf(lang === 'all' ? cvPairs : cvPairs.filter((p) => p.lang === lang)),
      ]),
    ),
    reliability,
    // Out-of-fold, per phenomenon: recall of each kind of report and false positives per kind of
    // negative (texts whose corpus names a phenomenon), for the bench's development rows.
    crossValidatedByPhenomenon: Object.fromEntries(
      [...new Set(items.flatMap((it) => (it.phenomenon ? [it.phenomenon] : [])))].sort().map((ph) => {
        const rows = cvPairs.filter((_, i) => items[i]!.phenomenon === ph);
        const flagged = rows.filter((p) => p.p >= 0.5).length;
        const positive = rows[0]!.y === 1;
        return [ph, { n: rows.length, positive, flagged, rate: +(flagged / rows.length).toFixed(3) }];
      }),
    ),
  },
  bias: Math.round(final.b * 1e6) / 1e6,
  platt: { a: Math.round(calibration.a * 1e6) / 1e6, c: Math.round(calibration.c * 1e6) / 1e6 },
  weights,
};
const json = `${JSON.stringify(model)}\n`;
if (process.argv.includes('--dry-run')) {
  console.log('dry run: nothing written');
} else if (process.argv.includes('--check')) {
  const committed = readFileSync(OUT, 'utf8');
  if (committed !== json) {
    console.error(`${OUT} differs from a fresh training run`);
    process.exit(1);
  }
  console.log(`${OUT} matches a fresh training run`);
} else {
  writeFileSync(OUT, json);
  console.log(
    `wrote ${OUT}: ${Object.keys(weights).length} weights, bias ${model.bias}, platt ${JSON.stringify(model.platt)}`,
  );
}
