import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { AnalysisContext, AnalyzerOutput, ModelAnalysis } from '../../src/analysis/audit/analyzer.ts';
import {
  BIAS_COLUMNS,
  BIAS_WORKER_MIN_WORK,
  createBiasAnalyzer,
} from '../../src/analysis/audit/bias-analyzer.ts';
import { buildAuditResult, verdictOf } from '../../src/analysis/audit/build.ts';
import { AuditRunOptions, type BiasReference } from '../../src/analysis/audit/types.ts';
import { distanceEvidence } from '../../src/analysis/bias/analysis-distance.ts';
import { colourPart, compositionPart, facesPart } from '../../src/analysis/bias/analysis-parts.ts';
import { nameReference } from '../../src/analysis/bias/analysis-reference.ts';
import type { BiasPart } from '../../src/analysis/bias/analysis-types.ts';
import { type ColourFeatures, colourExtractor, compareColour } from '../../src/analysis/bias/colour.ts';
import { computeBiasModelsInWorker } from '../../src/analysis/bias/compute-host.ts';
import { BiasModelEvidence, BiasSummary } from '../../src/analysis/bias/evidence.ts';
import type { ModelRecord } from '../../src/analysis/civitai/record.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import { decodeImage } from '../../src/analysis/images/decode.ts';
import type {
  ImageFeatureRecord,
  ImagePassResult,
  SampleImageRef,
} from '../../src/analysis/images/features.ts';
import { matrix } from '../../src/analysis/stats/linalg.ts';
import { type Random, seededRandom } from '../../src/analysis/stats/random.ts';
import { decodedRgb } from '../support/images.ts';
import { blankRecord } from '../support/records.ts';
import { needsShared, sharedPath } from '../support/requirements.ts';

const record = (id: number): ModelRecord => blankRecord(id);

/** An RGB image of one hue with per-image jitter of saturation and value. */
function solid(rgb: [number, number, number], rng: Random, size = 16) {
  const data = new Uint8Array(size * size * 3);
  const s = 0.85 + 0.15 * rng.next();
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < 3; c++) data[p * 3 + c] = Math.round(rgb[c]! * s * (0.9 + 0.1 * rng.next()));
  }
  return decodedRgb(data, size);
}

function ref(modelId: number | null, imageId: number): SampleImageRef {
  return {
    key: modelId === null ? `ref:${imageId}.png` : `${modelId}:${imageId}`,
    modelId,
    versionId: modelId === null ? null : modelId * 10,
    imageId: modelId === null ? null : imageId,
    url: modelId === null ? `file:///refs/${imageId}.png` : `https://image.civitai.com/x/${imageId}.jpeg`,
    prompt: null,
    width: 16,
    height: 16,
  };
}

function okRecord(r: SampleImageRef, features: Record<string, unknown>, size = 16): ImageFeatureRecord {
  return { ref: r, status: 'ok', width: size, height: size, features, failed: {}, cached: false };
}

/** A detected photo face of height `h` and box aspect `aspect` (the faces extractor's value shape). */
const face = (h: number, aspect: number) => ({
  box: { x: 10, y: 10, w: h * aspect, h },
  score: 0.9,
  detector: 'yunet',
  kind: 'photo' as const,
  landmarks: null,
  geometry: {
    boxAspect: aspect,
    interOcularRatio: null,
    eyeMouthRatio: null,
    jawWidthRatio: null,
    rollDeg: null,
  },
});

const DIM = 8;
function embedding(rng: Random, shift: number): number[] {
  const v = Array.from({ length: DIM }, (_, k) => rng.normal() * 0.2 + (k === 0 ? shift : 0));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/**
 * Four models × 12 images: model 1 all red (and its CLIP embeddings shifted), models 2–4 blue.
 * Features come from the real colour extractor run on the synthetic pixels.
 */
async function redVsBlue(): Promise<{ pass: ImagePassResult; features: Map<string, ColourFeatures> }> {
  const rng = seededRandom(4);
  const images = new Map<string, ImageFeatureRecord>();
  const features = new Map<string, ColourFeatures>();
  for (const modelId of [1, 2, 3, 4]) {
    for (let i = 0; i < 12; i++) {
      const r = ref(modelId, modelId * 100 + i);
      const colour = await colourExtractor.extract(
        solid(modelId === 1 ? [230, 20, 20] : [20, 40, 200], rng),
        r,
      );
      features.set(r.key, colour);
      images.set(r.key, okRecord(r, { colour, clip: embedding(rng, modelId === 1 ? 3 : 0) }));
    }
  }
  return {
    pass: { images, reference: new Map(), stats: { images: 48, decoded: 48, cacheHits: 0, skipped: 0 } },
    features,
  };
}

const options = (reference: BiasReference = { kind: 'population' }) =>
  AuditRunOptions.parse({ reference, seed: 7 });

function clipOutput(flags: Record<number, boolean | null>): AnalyzerOutput {
  const perModel = new Map<number, ModelAnalysis>();
  for (const [id, flagged] of Object.entries(flags)) {
    perModel.set(Number(id), { flagged, findings: [], metrics: {}, evidence: null });
  }
  return { perModel, rows: [], notes: [], flaggedImages: [] };
}

const records = [1, 2, 3, 4].map(record);

test('population reference: a red model among blue ones has a large hue JS and S/V and FID intervals away from 0', async () => {
  const { pass, features } = await redVsBlue();
  const analyzer = createBiasAnalyzer({ colour: colourPart(), distanceResamples: 50 });
  const out = await analyzer.analyze(records, {}, options(), { images: pass, previous: new Map() });
  const red = out.perModel.get(1)!;
  const ev = BiasModelEvidence.parse(red.evidence);
  assert.equal(ev.reference.kind, 'population');
  assert.equal(ev.reference.nImages, 36);
  assert.equal(ev.nImages, 12);
  assert.ok((red.metrics.hue_js as number) > 0.9, `hue_js ${red.metrics.hue_js}`);
  assert.equal(red.metrics.bias_reference, 'population(n=36)');
  assert.equal(red.metrics.n_images, 12);
  assert.equal(ev.distance.status, 'ok');
  if (ev.distance.status === 'ok') assert.ok(ev.distance.fid.low > 0 && ev.distance.cmmd.low > 0);
  // Leave-one-out: model 2 against models 1, 3, 4 exactly (same seed, same draws).
  const blue = BiasModelEvidence.parse(out.perModel.get(2)!.evidence);
  const key = (m: number) => Array.from({ length: 12 }, (_, i) => `${m}:${m * 100 + i}`);
  const own = key(2).map((k) => features.get(k)!);
  const others = [1, 3, 4].flatMap(key).map((k) => features.get(k)!);
  assert.deepEqual(blue.colour, compareColour(own, others, { seed: 7 }));
  const emb = (keys: string[]) => {
    const rows = keys.map((k) => {
      const r = pass.images.get(k);
      return r?.status === 'ok' ? (r.features.clip as number[]) : [];
    });
    return matrix(rows.length, DIM, Float64Array.from(rows.flat()));
  };
  const want = distanceEvidence(emb(key(2)), emb([1, 3, 4].flatMap(key)), { seed: 7, resamples: 50 });
  assert.equal(blue.distance.status, 'ok');
  if (blue.distance.status === 'ok' && want.status === 'ok') {
    assert.ok(Math.abs(blue.distance.cmmd.estimate - want.cmmd.estimate) < 1e-9);
    assert.ok(Math.abs(blue.distance.fid.low - want.fid.low) < 1e-7);
  }
  // Red vs blue: S differs, CI away from 0; blue models are closer to their (mostly blue) reference.
  assert.equal(ev.colour.status, 'ok');
  if (ev.colour.status === 'ok') assert.ok(ev.colour.satMeanDiff.low > 0 || ev.colour.satMeanDiff.high < 0);
  assert.ok((out.perModel.get(2)!.metrics.hue_js as number) < (red.metrics.hue_js as number));
  // The columns, in order, on every model; faces and composition are not measured without their parts.
  for (const r of records) {
    const a = out.perModel.get(r.id)!;
    assert.deepEqual(Object.keys(a.metrics), [...BIAS_COLUMNS]);
    assert.equal(a.informational, true);
    assert.equal(a.flagged, false);
    const e = BiasModelEvidence.parse(a.evidence);
    assert.equal(e.faces.status, 'not-measured');
    assert.equal(a.metrics.face_detect_rate, null);
  }
  BiasSummary.parse(out.summary);
});

test('without the image pass every model is "not measured: image pass unavailable", nothing else', async () => {
  const out = await createBiasAnalyzer({ colour: colourPart() }).analyze(records, {}, options(), {
    previous: new Map(),
  });
  for (const r of records) {
    const a = out.perModel.get(r.id)!;
    assert.equal(a.flagged, null);
    assert.equal(a.unmeasured, 'image pass unavailable');
    assert.ok(Object.values(a.metrics).every((v) => v === null));
    const e = BiasModelEvidence.parse(a.evidence);
    assert.equal(e.colour.status, 'not-measured');
    assert.equal(e.distance.status, 'not-measured');
  }
  const summary = BiasSummary.parse(out.summary);
  assert.match(summary.sentence, /image pass unavailable/);
});

test('too few images: distances and colour say "insufficient", never a bare number', async () => {
  const rng = seededRandom(2);
  const images = new Map<string, ImageFeatureRecord>();
  for (const m of [1, 2]) {
    for (let i = 0; i < (m === 1 ? 2 : 12); i++) {
      const r = ref(m, m * 100 + i);
      const colour = await colourExtractor.extract(solid([200, 100, 30], rng), r);
      images.set(r.key, okRecord(r, { colour, clip: embedding(rng, 0) }));
    }
  }
  const pass = { images, reference: new Map(), stats: { images: 14, decoded: 14, cacheHits: 0, skipped: 0 } };
  const out = await createBiasAnalyzer({ colour: colourPart() }).analyze(
    [record(1), record(2)],
    {},
    options(),
    {
      images: pass,
      previous: new Map(),
    },
  );
  const small = BiasModelEvidence.parse(out.perModel.get(1)!.evidence);
  assert.equal(small.distance.status, 'insufficient');
  assert.match(
    small.distance.status === 'insufficient' ? small.distance.reason : '',
    /^insufficient samples/,
  );
  assert.equal(small.colour.status, 'insufficient');
  const m = out.perModel.get(1)!.metrics;
  assert.equal(m.fid_clip, null);
  assert.equal(m.hue_js, null);
  assert.equal(m.n_images, 2);
  // Model 2's reference (model 1's 2 images) is too small too.
  assert.equal(BiasModelEvidence.parse(out.perModel.get(2)!.evidence).distance.status, 'insufficient');
});

test('a directory reference is compared against by every model and named dir:<folder>(n=N)', async () => {
  const { pass } = await redVsBlue();
  const rng = seededRandom(9);
  const reference = new Map<string, ImageFeatureRecord>();
  for (let i = 0; i < 15; i++) {
    const r = ref(null, i);
    const colour = await colourExtractor.extract(solid([20, 40, 200], rng), r);
    reference.set(r.key, okRecord(r, { colour, clip: embedding(rng, 0) }));
  }
  const out = await createBiasAnalyzer({ colour: colourPart(), distanceResamples: 20 }).analyze(
    records,
    {},
    options({ kind: 'dir', path: '/data/refs/' }),
    { images: { ...pass, reference }, previous: new Map() },
  );
  for (const r of records) {
    const a = out.perModel.get(r.id)!;
    assert.equal(a.metrics.bias_reference, 'dir:refs(n=15)');
    const e = BiasModelEvidence.parse(a.evidence);
    assert.deepEqual(e.reference, { kind: 'dir', label: 'folder refs/ (15 images)', nImages: 15 });
  }
  assert.ok((out.perModel.get(1)!.metrics.hue_js as number) > 0.9);
  // An empty reference measures nothing and says why.
  const empty = await createBiasAnalyzer({ colour: colourPart() }).analyze(
    records,
    {},
    options({ kind: 'model', ref: 'https://civitai.com/models/4201/name' }),
    { images: pass, previous: new Map() },
  );
  assert.match(empty.perModel.get(1)!.unmeasured ?? '', /model:4201\(n=0\) has no decodable images/);
});

test('reference names: population, dir and model cells state the N', () => {
  assert.equal(nameReference({ kind: 'population' }, 180).column, 'population(n=180)');
  assert.equal(nameReference({ kind: 'dir', path: 'a/refs' }, 120).column, 'dir:refs(n=120)');
  assert.equal(nameReference({ kind: 'model', ref: '4201' }, 40).column, 'model:4201(n=40)');
});

test('flagged vs unflagged: groups come from earlier analyses, fewer than 3 per group gives no test', async () => {
  const { pass } = await redVsBlue();
  const previous: AnalysisContext['previous'] = new Map([
    ['clip', clipOutput({ 1: true, 2: false, 3: false, 4: null })],
  ]);
  const out = await createBiasAnalyzer({ colour: colourPart(), distanceResamples: 10 }).analyze(
    records,
    {},
    options(),
    { images: pass, previous },
  );
  const summary = BiasSummary.parse(out.summary);
  assert.deepEqual(summary.flaggedBy, ['clip']);
  const hue = summary.significance.find((r) => r.metric === 'hue_js')!;
  assert.equal(hue.nFlagged, 1);
  assert.equal(hue.nUnflagged, 2);
  assert.equal(hue.p, null);
  assert.match(hue.note ?? '', /fewer than 3 models/);
  assert.match(summary.sentence, /^No significance test at this N \(flagged 1 vs unflagged 2 models\)/);
  assert.match(out.perModel.get(2)!.note ?? '', /^informational, vs population\(n=36\): hue JS .*not tested/);
});

test('bias never decides a verdict: alone it leaves "unknown", with a clean analysis it adds its clause', () => {
  const bias: ModelAnalysis = {
    flagged: false,
    informational: true,
    findings: [],
    metrics: {},
    evidence: null,
    note: 'informational, vs population(n=36)',
  };
  const alone = verdictOf([
    ['text', { flagged: null, unmeasured: 'no text', findings: [], metrics: {}, evidence: null }],
    ['bias', bias],
  ]);
  assert.equal(alone.verdict, 'unknown');
  assert.match(alone.verdictLine, /text \(no text\)/);
  const clean = verdictOf([
    ['text', { flagged: false, findings: [], metrics: {}, evidence: null }],
    ['bias', bias],
  ]);
  assert.equal(clean.verdict, 'clean');
  assert.equal(clean.verdictLine, 'No tag errors found by: text. bias: informational, vs population(n=36).');
  const unmeasuredBias = verdictOf([
    ['text', { flagged: false, findings: [], metrics: {}, evidence: null }],
    ['bias', { ...bias, flagged: null, unmeasured: 'image pass unavailable' }],
  ]);
  assert.equal(unmeasuredBias.verdictLine, 'No tag errors found by: text.');
});

test('metrics.csv: bias columns once, in order, and one image row per image with CLIP and colour cells', async () => {
  const { pass } = await redVsBlue();
  const bias = createBiasAnalyzer({ colour: colourPart(), distanceResamples: 10 });
  const biasOut = await bias.analyze(records, {}, options(), { images: pass, previous: new Map() });
  const clipRows = [...pass.images.values()].slice(0, 5).map((r) => ({
    row_type: 'image',
    model_id: r.ref.modelId,
    version_id: r.ref.versionId,
    image_id: r.ref.imageId,
    image_url: r.ref.url,
    clip_cosine: 0.3,
  }));
  const clip = { name: 'clip', columns: ['clip_images_scored'], analyze: async () => clipOutput({}) };
  const result = buildAuditResult({
    selection: { kind: 'model', ref: '1' },
    options: options(),
    records,
    analyzers: [clip, bias],
    outputs: [{ ...clipOutput({}), rows: clipRows }, biasOut],
    notes: [],
    now: new Date('2026-01-01T00:00:00Z'),
  });
  const csv = result.files.find((f) => f.name === 'metrics.csv')!.data.toString('utf8');
  const lines = csv.trim().split('\n');
  const header = lines[0]!.split(',');
  const start = header.indexOf('hue_js');
  assert.deepEqual(header.slice(start, start + BIAS_COLUMNS.length), [...BIAS_COLUMNS]);
  for (const c of [...BIAS_COLUMNS, 'sat_mean', 'clip_cosine'])
    assert.equal(header.filter((h) => h === c).length, 1);
  const imageLines = lines.filter((l) => l.startsWith('image,'));
  assert.equal(imageLines.length, 48);
  const first = imageLines[0]!.split(',');
  assert.equal(first[header.indexOf('clip_cosine')], '0.3');
  assert.notEqual(first[header.indexOf('sat_mean')], '');
  assert.equal(first[header.indexOf('hue_peak_bin')], '0');
});

test(
  'real decoded images run through the colour extractor give schema-valid evidence',
  needsShared(),
  async () => {
    const files = readFileSync(sharedPath('fixtures/images/index.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string })
      .slice(0, 24);
    const images = new Map<string, ImageFeatureRecord>();
    for (const [i, f] of files.entries()) {
      const decoded = await decodeImage(readFileSync(sharedPath(`fixtures/images/${f.file}`)));
      if (!decoded.ok) continue;
      const r = ref(1 + (i % 2), i);
      images.set(r.key, okRecord(r, { colour: await colourExtractor.extract(decoded, r) }));
    }
    const pass = {
      images,
      reference: new Map(),
      stats: { images: 24, decoded: 24, cacheHits: 0, skipped: 0 },
    };
    const out = await createBiasAnalyzer({ colour: colourPart() }).analyze(
      [record(1), record(2)],
      {},
      options(),
      {
        images: pass,
        previous: new Map(),
      },
    );
    for (const id of [1, 2]) {
      const e = BiasModelEvidence.parse(out.perModel.get(id)!.evidence);
      assert.equal(e.colour.status, 'ok');
      assert.equal(e.distance.status, 'not-measured');
      assert.ok(e.nImages >= 10);
    }
  },
);

test('faces and composition parts read the pass values: detection rate, aspect deviation, shot shares, image cells', async () => {
  const rng = seededRandom(12);
  const images = new Map<string, ImageFeatureRecord>();
  for (const m of [1, 2, 3]) {
    for (let i = 0; i < 12; i++) {
      const r = { ...ref(m, m * 100 + i), width: 100, height: 100 };
      // Model 1: big, wide faces (close-ups); others: small, narrow faces (full body) or none.
      const faces =
        m === 1 ? [face(50, 1.2 + 0.01 * i)] : i % 3 === 0 ? [] : [face(8, 0.8 + 0.01 * rng.next())];
      images.set(
        r.key,
        okRecord(r, { faces: { faces, detectors: ['yunet', 'peppa-68'] }, saliency: null }, 100),
      );
    }
  }
  const pass = { images, reference: new Map(), stats: { images: 36, decoded: 36, cacheHits: 0, skipped: 0 } };
  const analyzer = createBiasAnalyzer({ faces: facesPart(), composition: compositionPart() });
  assert.deepEqual(
    analyzer.imageExtractors?.map((x) => x.name),
    ['faces', 'saliency'],
  );
  const out = await analyzer.analyze([record(1), record(2), record(3)], {}, options(), {
    images: pass,
    previous: new Map(),
  });
  const m1 = out.perModel.get(1)!.metrics;
  assert.equal(m1.face_detect_rate, 1);
  assert.equal(m1.shot_closeup, 1);
  assert.equal(m1.shot_none, 0);
  assert.ok((m1.face_aspect_dev_pct as number) > 20);
  assert.ok((m1.face_aspect_dev_pct_ci_low as number) > 0);
  const m2 = out.perModel.get(2)!.metrics;
  assert.ok(Math.abs((m2.face_detect_rate as number) - 8 / 12) < 1e-12);
  assert.ok(Math.abs((m2.shot_full as number) - 8 / 12) < 1e-12);
  assert.ok(Math.abs((m2.shot_none as number) - 4 / 12) < 1e-12);
  for (const id of [1, 2, 3]) BiasModelEvidence.parse(out.perModel.get(id)!.evidence);
  const row = out.rows.find((r) => r.model_id === 1)!;
  assert.equal(row.faces, 1);
  assert.equal(row.shot, 'closeup');
  assert.ok(Math.abs((row.face_aspect as number) - 1.2) < 1e-12);
  assert.equal(row.sat_mean, null);
  await analyzer.close?.();
});

/** Red-vs-blue colour and CLIP values plus faces/saliency, and one failed image: every part has input. */
async function allParts(): Promise<ImagePassResult> {
  const { pass } = await redVsBlue();
  const images = new Map(pass.images);
  for (const [key, rec] of images) {
    if (rec.status !== 'ok') continue;
    const m = rec.ref.modelId!;
    const faces = m === 1 ? [face(50, 1.2)] : [face(8, 0.8 + 0.001 * (rec.ref.imageId ?? 0))];
    images.set(key, {
      ...rec,
      features: { ...rec.features, faces: { faces, detectors: ['yunet', 'peppa-68'] }, saliency: null },
    });
  }
  const broken = ref(2, 299);
  images.set(broken.key, { ref: broken, status: 'skipped', reason: 'http-error' as never, detail: '404' });
  return { ...pass, images };
}

test('the per-model computation gives the same numbers in a worker thread as on the calling thread', async () => {
  const pass = await allParts();
  const where: string[] = [];
  const run = async (computeIn: 'worker' | 'main') => {
    const analyzer = createBiasAnalyzer({
      colour: colourPart(),
      faces: facesPart(),
      composition: compositionPart(),
      distanceResamples: 50,
      computeIn,
      onCompute: (w) => where.push(w),
    });
    const out = await analyzer.analyze(records, {}, options(), { images: pass, previous: new Map() });
    await analyzer.close?.();
    return out;
  };
  const main = await run('main');
  const worker = await run('worker');
  assert.deepEqual(where, ['main', 'worker']);
  assert.equal(JSON.stringify([...worker.perModel]), JSON.stringify([...main.perModel]));
  assert.deepEqual(worker.rows, main.rows);
  assert.deepEqual(worker.summary, main.summary);
  // Every part measured something, and the failed image is said: the comparison is not vacuous.
  const ev = BiasModelEvidence.parse(main.perModel.get(2)!.evidence);
  assert.equal(ev.colour.status, 'ok');
  assert.equal(ev.faces.status, 'ok');
  assert.equal(ev.distance.status, 'ok');
  assert.equal(ev.imagesFailed?.count, 1);
});

test('auto: a worker thread from BIAS_WORKER_MIN_WORK models × images up, the calling thread below it or for a part of its own', async () => {
  const pass = await allParts();
  const where: string[] = [];
  const custom: BiasPart<never> = {
    extractors: [colourExtractor],
    compare: () => ({ status: 'not-measured', reason: 'a custom part' }) as never,
    imageCells: () => ({}),
  };
  const analyze = (deps: Parameters<typeof createBiasAnalyzer>[0]) =>
    createBiasAnalyzer({ ...deps, distanceResamples: 50, onCompute: (w) => where.push(w) }).analyze(
      records,
      {},
      options(),
      { images: pass, previous: new Map() },
    );
  assert.ok(records.length * 48 < BIAS_WORKER_MIN_WORK);
  await analyze({ colour: colourPart() });
  // The same small audit with a lower threshold would go to the worker: check the rule at its edge.
  const big = new Map(pass.images);
  const perModel = Math.ceil(BIAS_WORKER_MIN_WORK / records.length / records.length);
  for (const m of [1, 2, 3, 4]) {
    for (let i = 0; i < perModel; i++) {
      const r = ref(m, 10_000 + m * 1000 + i);
      big.set(r.key, okRecord(r, { clip: embedding(seededRandom(i), 0) }));
    }
  }
  assert.ok(
    records.length * [...big.values()].filter((r) => r.status === 'ok').length >= BIAS_WORKER_MIN_WORK,
  );
  const bigPass = { ...pass, images: big };
  await createBiasAnalyzer({
    colour: colourPart(),
    distanceResamples: 50,
    onCompute: (w) => where.push(w),
  }).analyze(records, {}, options(), { images: bigPass, previous: new Map() });
  await createBiasAnalyzer({
    colour: custom as never,
    distanceResamples: 50,
    computeIn: 'worker',
    onCompute: (w) => where.push(w),
  }).analyze(records, {}, options(), { images: bigPass, previous: new Map() });
  assert.deepEqual(where, ['main', 'worker', 'main']);
});

test('a failure inside the bias worker reaches the caller as a typed error', async () => {
  await assert.rejects(
    computeBiasModelsInWorker({ modelIds: null } as never, ['colour']),
    (e: unknown) => hasCode(e, 'INTERNAL') && /bias analysis failed in its worker/.test((e as Error).message),
  );
});
