import {
  AUDIT_SCHEMA_VERSION,
  type AuditDocument,
  type DocumentModel,
} from '../../src/analysis/audit/document.ts';
import { AuditRunOptions, AuditSelection } from '../../src/analysis/audit/types.ts';
import type { BiasModelEvidence, BiasSummary } from '../../src/analysis/bias/evidence.ts';

/**
 * A synthetic but realistic audit document for report tests and the report bench: every analysis's
 * evidence in the shape its analyzer writes (text, training, clip) and bias evidence built to
 * src/analysis/bias/evidence.ts. Seeded: the same options give the same document.
 */
export interface FixtureOptions {
  models?: number;
  seed?: number;
  clip?: boolean;
  bias?: boolean;
  /** Names and evidence with Markdown / HTML metacharacters, CJK text and very long strings. */
  hostile?: boolean;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LANGS = ['en', 'zh', 'ja', 'es', 'ru'];
const KINDS = ['description', 'changelog', 'comment', 'review'];
const RULES = [
  'training.contradiction.gender',
  'training.trigger.drift',
  'training.similar-tags',
  'training.contradiction.hair-color',
];
const HOSTILE_NAME = '<script>alert(1)</script> | **bold** [x](javascript:alert(1)) 中文模型名';

export function fixtureAudit(options: FixtureOptions = {}): AuditDocument {
  const n = options.models ?? 8;
  const r = rng(options.seed ?? 7);
  const clip = options.clip ?? true;
  const bias = options.bias ?? true;
  const models: DocumentModel[] = [];
  const rows: AuditDocument['rows'] = [];
  const flaggedImages: AuditDocument['flaggedImages'] = [];
  for (let i = 0; i < n; i++) {
    const id = 100_000 + i;
    const versionId = 200_000 + i;
    const name = options.hostile && i === 0 ? HOSTILE_NAME : `Model ${i} ${i % 3 === 0 ? '风格' : 'style'}`;
    const textFlag = r() < 0.35;
    const trainingFlag = r() < 0.3;
    const findings: DocumentModel['findings'] = [];
    const evidence = textFlag
      ? Array.from({ length: 1 + Math.floor(r() * 4) }, (_, k) => ({
          span: 'the trigger word is wrong',
          start: 0,
          end: 25,
          context: options.hostile
            ? `${'|<b>'.repeat(5)} the trigger word is wrong \n # not a heading`
            : 'the trigger word is wrong',
          score: 0.5 + r() * 0.5,
          rule: 'model:entity',
          cues: [],
          sourceId: `comment:${k}`,
          sourceKind: KINDS[Math.floor(r() * KINDS.length)] ?? 'comment',
          sourceLabel: `comment ${k}`,
          lang: LANGS[Math.floor(r() * LANGS.length)] ?? 'en',
          author: 'someone',
          versionId: null,
          fixedIn: null,
        }))
      : [];
    for (const [k, e] of evidence.entries())
      findings.push({
        itemKey: `${id}:text:model:entity:${k}`,
        detector: 'text',
        rule: 'model:entity',
        severity: e.score >= 0.7 ? 'error' : 'warning',
        title: `Reported tag error (${e.lang}) in ${e.sourceLabel}`,
        evidence: e.context,
        source: e.sourceLabel,
      });
    const trainingFindings = trainingFlag
      ? [
          {
            rule: RULES[Math.floor(r() * RULES.length)] ?? RULES[0],
            severity: 'error',
            title: '"1girl" and "2girls" are both on at least 10 caption(s)',
          },
        ]
      : [];
    for (const f of trainingFindings)
      findings.push({
        itemKey: `${id}:training:${f.rule}:x`,
        detector: 'training',
        rule: f.rule ?? 'training.similar-tags',
        severity: 'error',
        title: f.title,
        evidence: '1girl ×48, 2girls ×12 (of 50 images)',
      });
    const images = 10 + Math.floor(r() * 20);
    let low = 0;
    const clipImages: DocumentModel['samples'] = [];
    if (clip) {
      for (let k = 0; k < images; k++) {
        const imageId = id * 100 + k;
        const q = 0.22 + r() * 0.04;
        const cos = 0.18 + r() * 0.16;
        const isLow = cos <= q && r() < 0.6;
        if (isLow) low++;
        const url = `https://image.civitai.com/x/${imageId}.jpeg`;
        rows.push({
          row_type: 'image',
          model_id: id,
          version_id: versionId,
          image_id: imageId,
          image_url: url,
          prompt_clean: `masterpiece, 1girl, ${options.hostile ? '<img src=x onerror=alert(1)>' : 'red hair'}`,
          clip_cosine: cos,
          clip_cosine_mean: cos - 0.01,
          clipscore: 2.5 * cos,
          clip_null_p: isLow ? 0.3 : 0.01,
          clip_null_quantile: q,
          low_match: isLow,
          prompt_windows: 1,
          skipped: null,
        });
        if (isLow)
          clipImages.push({
            modelId: id,
            versionId,
            imageId,
            url,
            nsfwLevel: k % 5 === 0 ? 4 : 1,
            reason: `low CLIP match (cos ${cos.toFixed(3)})`,
            prompt: 'masterpiece, 1girl',
          });
      }
    }
    const rate = images > 0 ? low / images : 0;
    const clipFlag = clip ? rate - 0.15 > 0.25 : null;
    if (clipFlag) {
      flaggedImages.push(...clipImages);
      for (const im of clipImages)
        findings.push({
          itemKey: `${id}:clip:clip.low-match:${im.imageId}`,
          detector: 'clip',
          rule: 'clip.low-match',
          severity: 'warning',
          title: `Image ${im.imageId} does not match its prompt`,
          evidence: 'cos 0.2 vs null q95 0.25',
          source: im.url,
          versionId,
        });
    }
    const flagged = textFlag || trainingFlag || clipFlag === true;
    const verdict = flagged ? 'flagged' : 'clean';
    const analyses: Record<string, unknown> = {
      text: {
        flag: textFlag,
        score: textFlag ? 0.9 : 0.1,
        threshold: 0.5,
        evidence,
        scannedSources: 5,
        reporters: evidence.length,
        fixedReports: 0,
        summary: '',
      },
      training: { status: 'ok', flag: trainingFlag, findings: trainingFindings },
      clip: clip
        ? {
            mode: 'calibrated',
            alpha: 0.05,
            nullK: 99,
            seed: 1,
            summary: {
              model_id: id,
              scored: images,
              skipped: 0,
              decided: images,
              flagged: low,
              low_match_rate: rate,
              low_match_ci_low: Math.max(0, rate - 0.15),
              low_match_ci_high: Math.min(1, rate + 0.2),
            },
          }
        : { status: 'not-measured', reason: 'CLIP model files are missing' },
    };
    if (bias) analyses.bias = biasEvidence(r, i);
    models.push({
      modelId: id,
      name,
      url: `https://civitai.com/models/${id}`,
      creator: 'creator',
      type: 'LORA',
      versionCount: 1,
      publishedAt: '2024-05-01T00:00:00.000Z',
      updatedAt: '2024-06-01T00:00:00.000Z',
      downloadCount: 1000 * (n - i),
      imageCount: images,
      commentCount: 10,
      commentsRead: 10,
      hasTrainingTags: true,
      commentsStatus: 'ok',
      commentsReason: null,
      verdict,
      verdictLine: flagged
        ? 'Possible tag errors found by: text.'
        : 'No tag errors found by: text, training.',
      findings,
      metrics: { row_type: 'model', model_id: id, verdict },
      versions: [{ id: versionId, name: 'v1', baseModel: 'SDXL 1.0', sha256: 'ab'.repeat(32) }],
      outcomes: {
        text: { flagged: textFlag, unmeasured: null },
        training: { flagged: trainingFlag, unmeasured: null },
        clip: clip
          ? { flagged: clipFlag, unmeasured: null }
          : { flagged: null, unmeasured: 'not run: CLIP model files are missing, run npm run models' },
        ...(bias ? { bias: { flagged: false, unmeasured: null } } : {}),
      },
      analyses,
      samples: flagged
        ? [
            {
              modelId: id,
              versionId,
              imageId: id * 100 + 99,
              url: `https://image.civitai.com/x/${id}-sample.jpeg`,
              nsfwLevel: 2,
              reason: 'sample image of a model flagged by text',
              prompt: 'a prompt',
            },
          ]
        : [],
    });
  }
  const summary: BiasSummary | undefined = bias
    ? {
        reference: { kind: 'population', label: 'all other audited models (leave-one-out)', nImages: 400 },
        flaggedBy: ['text', 'training', 'clip'],
        alpha: 0.05,
        significance: ['hue_js', 'sat_mean_diff', 'kid'].map((metric, k) => ({
          metric,
          nFlagged: 4,
          nUnflagged: 4,
          medianFlagged: 0.1 + k * 0.01,
          medianUnflagged: 0.08,
          u: 10,
          p: 0.04 * (k + 1),
          q: 0.06 * (k + 1),
          cliffsDelta: 0.3,
          significant: k === 0,
        })),
        sentence: '1 of 3 bias metrics differs between flagged and unflagged models at q < 0.05 (hue_js).',
      }
    : undefined;
  return {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    tool: { name: 'loralens', version: '0.1.0' },
    generatedAt: '2026-03-02T10:00:00.000Z',
    selection: AuditSelection.parse({ kind: 'top', n, from: '2024-01-01', to: '2025-12-31' }),
    options: AuditRunOptions.parse({}),
    analyses: ['text', 'training', 'clip', ...(bias ? ['bias'] : [])],
    notes: clip ? [] : ['CLIP image–prompt matching was skipped because model files are missing.'],
    summaries: summary ? { bias: summary } : {},
    models,
    rows,
    flaggedImages,
  };
}

function interval(r: () => number, centre: number, spread: number) {
  const estimate = centre + (r() - 0.5) * spread;
  return { estimate, low: estimate - spread / 2, high: estimate + spread / 2, level: 0.95, resamples: 1000 };
}

function histogram36(r: () => number, peak: number): number[] {
  const raw = Array.from(
    { length: 36 },
    (_, i) => Math.exp(-(((i - peak + 36) % 36) ** 2) / 20) + 0.05 * r(),
  );
  const s = raw.reduce((a, b) => a + b, 0);
  return raw.map((x) => x / s);
}

function biasEvidence(r: () => number, i: number): BiasModelEvidence {
  const reference = {
    kind: 'population' as const,
    label: 'all other audited models (leave-one-out)',
    nImages: 400,
  };
  return {
    reference,
    nImages: 20,
    colour: {
      status: 'ok',
      n: 20,
      nRef: 400,
      hue: histogram36(r, 2 + (i % 4)),
      refHue: histogram36(r, 5),
      hueJs: 0.05 + r() * 0.1,
      satMean: 0.4,
      refSatMean: 0.35,
      satMeanDiff: interval(r, 0.05, 0.06),
      valMean: 0.6,
      refValMean: 0.58,
      valMeanDiff: interval(r, 0.02, 0.05),
      colourfulness: 40,
      refColourfulness: 38,
      warmCoolRatio: 1.2,
    },
    faces:
      i % 4 === 3
        ? { status: 'insufficient', reason: 'insufficient faces: 2 faces in 12 images (need 5)' }
        : {
            status: 'ok',
            nImages: 20,
            nFaces: 15,
            detectionRate: 0.75,
            refDetectionRate: 0.7,
            kinds: { photo: 5, anime: 10 },
            detectors: ['yunet', 'lbp-anime'],
            aspects: Array.from({ length: 15 }, () => 0.75 + r() * 0.3),
            refAspects: Array.from({ length: 30 }, () => 0.7 + r() * 0.35),
            features: {
              boxAspect: {
                mean: interval(r, 0.85, 0.05),
                refMean: 0.84,
                devPct: interval(r, 1, 3),
                effectSize: 0.1,
                nFaces: 15,
              },
            },
          },
    composition: {
      status: 'ok',
      n: 20,
      nRef: 400,
      shots: { closeup: 6 + (i % 3), half: 8, full: 4, none: 2 },
      refShots: { closeup: 120, half: 150, full: 90, none: 40 },
      shotTest: { method: 'chi-square', statistic: 2.1, p: 0.55 },
      placement: { dx: interval(r, 0.01, 0.04), dy: interval(r, -0.02, 0.04) },
      thirdsDistance: 0.12,
      refThirdsDistance: 0.13,
      areaFraction: 0.3,
      refAreaFraction: 0.28,
    },
    distance: {
      status: 'ok',
      features: 'clip-vit-b32 image',
      n: 20,
      nRef: 400,
      dim: 512,
      fid: interval(r, 80, 20),
      fidNote: 'n below the dimension: covariances are singular',
      fidShrunk: interval(r, 60, 15),
      kidMean: 0.01,
      kidStd: 0.002,
      kid: interval(r, 0.01 + 0.005 * (i % 3), 0.006),
      cmmd: interval(r, 0.4, 0.2),
    },
  };
}
