import { z } from 'zod';

/**
 * What the bias analysis keeps in audit.json: per model under `models[].analyses.bias`, and for the
 * whole audit under `summaries.bias`. The report builder draws its charts from exactly this, so the
 * shape is a contract: change it only together with src/report.
 */

/** A point estimate with its bootstrap interval (percentile, `resamples` draws, seeded). */
export const IntervalEvidence = z.object({
  estimate: z.number(),
  low: z.number(),
  high: z.number(),
  level: z.number(),
  resamples: z.number().int(),
});
export type IntervalEvidence = z.infer<typeof IntervalEvidence>;

/** Why a block holds no numbers (never a bare figure from too little data). */
export const NotMeasured = z.object({
  status: z.enum(['not-measured', 'insufficient']),
  /** One plain sentence, e.g. "insufficient faces: 2 faces in 12 images (need 5)". */
  reason: z.string(),
});

export const ReferenceEvidence = z.object({
  kind: z.enum(['population', 'dir', 'model']),
  /** What a reader sees: "all other audited models (leave-one-out)", "folder refs/ (120 images)", "model 4201 'Name'". */
  label: z.string(),
  nImages: z.number().int(),
});
export type ReferenceEvidence = z.infer<typeof ReferenceEvidence>;

export const ColourEvidence = z.union([
  z.object({
    status: z.literal('ok'),
    n: z.number().int(),
    nRef: z.number().int(),
    /** Pooled saturation-weighted 36-bin hue histograms (bin i = hues [10i, 10i+10) degrees), each sums to 1. */
    hue: z.array(z.number()).length(36),
    refHue: z.array(z.number()).length(36),
    hueJs: z.number(),
    satMean: z.number(),
    refSatMean: z.number(),
    satMeanDiff: IntervalEvidence,
    valMean: z.number(),
    refValMean: z.number(),
    valMeanDiff: IntervalEvidence,
    colourfulness: z.number(),
    refColourfulness: z.number(),
    warmCoolRatio: z.number().nullable(),
  }),
  NotMeasured,
]);

export const FaceFeatureEvidence = z.object({
  mean: IntervalEvidence,
  refMean: z.number(),
  /** (mean − refMean) / refMean × 100, with the interval of the same ratio. */
  devPct: IntervalEvidence,
  /** Hedges' g of model vs reference faces. */
  effectSize: z.number(),
  nFaces: z.number().int(),
});

export const FacesEvidence = z.union([
  z.object({
    status: z.literal('ok'),
    nImages: z.number().int(),
    nFaces: z.number().int(),
    detectionRate: z.number(),
    refDetectionRate: z.number(),
    /** Faces found by each kind of detector (real photos vs anime / illustration). */
    kinds: z.object({ photo: z.number().int(), anime: z.number().int() }),
    detectors: z.array(z.string()),
    /** Per-face raw values, for the report's distribution charts (capped at 200 per model). */
    aspects: z.array(z.number()),
    refAspects: z.array(z.number()),
    /** boxAspect is always present; landmark features only when landmarks held (not for anime faces). */
    features: z.record(z.string(), FaceFeatureEvidence),
    note: z.string().optional(),
  }),
  NotMeasured,
]);

export const ShotType = z.enum(['closeup', 'half', 'full', 'none']);
export type ShotType = z.infer<typeof ShotType>;

export const CompositionEvidence = z.union([
  z.object({
    status: z.literal('ok'),
    n: z.number().int(),
    nRef: z.number().int(),
    shots: z.record(ShotType, z.number().int()),
    refShots: z.record(ShotType, z.number().int()),
    /** Shot-type distribution vs reference: chi-square, or an exact / Monte-Carlo test at small counts. */
    shotTest: z.object({ method: z.string(), statistic: z.number(), p: z.number() }),
    /** Mean subject centre (0..1) minus the reference's; positive = right / lower. */
    placement: z.object({ dx: IntervalEvidence, dy: IntervalEvidence }),
    thirdsDistance: z.number(),
    refThirdsDistance: z.number(),
    areaFraction: z.number(),
    refAreaFraction: z.number(),
  }),
  NotMeasured,
]);

export const DistanceEvidence = z.union([
  z.object({
    status: z.literal('ok'),
    /** Embedding the distances are computed on ("clip-vit-b32 image" or "inception-v3 pool3"). */
    features: z.string(),
    n: z.number().int(),
    nRef: z.number().int(),
    dim: z.number().int(),
    fid: IntervalEvidence,
    /** Set when n or nRef is below the dimension: the plain FID's covariances are singular. */
    fidNote: z.string().optional(),
    fidShrunk: IntervalEvidence,
    kidMean: z.number(),
    kidStd: z.number(),
    kid: IntervalEvidence,
    cmmd: IntervalEvidence,
  }),
  NotMeasured,
]);

export const BiasModelEvidence = z.object({
  reference: ReferenceEvidence,
  nImages: z.number().int(),
  /** Sample images of this model that failed to download or decode (after retries), when any. */
  imagesFailed: z.object({ count: z.number().int().positive(), sentence: z.string() }).optional(),
  colour: ColourEvidence,
  faces: FacesEvidence,
  composition: CompositionEvidence,
  distance: DistanceEvidence,
  /** Inception-v3 pool3 FID / KID; present only when the user supplied an Inception ONNX. */
  distanceInception: DistanceEvidence.optional(),
});
export type BiasModelEvidence = z.infer<typeof BiasModelEvidence>;

/** One metric compared between flagged and unflagged models (one value per model). */
export const SignificanceRow = z.object({
  /** metrics.csv column name, e.g. `hue_js`. */
  metric: z.string(),
  nFlagged: z.number().int(),
  nUnflagged: z.number().int(),
  medianFlagged: z.number().nullable(),
  medianUnflagged: z.number().nullable(),
  u: z.number().nullable(),
  p: z.number().nullable(),
  /** Benjamini–Hochberg adjusted across the rows of this table. */
  q: z.number().nullable(),
  cliffsDelta: z.number().nullable(),
  significant: z.boolean(),
  /** Why no test ran (e.g. "fewer than 3 models in a group"). */
  note: z.string().optional(),
});

export const BiasSummary = z.object({
  reference: ReferenceEvidence,
  /** Which analyses' flags define "flagged" (text, training, clip). */
  flaggedBy: z.array(z.string()),
  alpha: z.number(),
  significance: z.array(SignificanceRow),
  /** One sentence for the verdict line / report: what is and is not significant at this N. */
  sentence: z.string(),
});
export type BiasSummary = z.infer<typeof BiasSummary>;
