import { z } from 'zod';
import type { AuditDocument, DocumentModel } from '../analysis/audit/document.ts';
import {
  BiasModelEvidence,
  type BiasModelEvidence as BiasModelEvidenceT,
  BiasSummary,
} from '../analysis/bias/evidence.ts';
import { quantile } from '../analysis/stats/quantile.ts';
import { type ProportionInterval, wilsonInterval } from '../analysis/stats/wilson.ts';

/**
 * What every report file shows, derived once from the audit document: counts, per-analysis status
 * (ran / measured / not run and why), and the series the charts draw. Numbers come only from the
 * document; nothing here is a fixed finding.
 */

/** The analyses a report talks about, in report order, with what each measures. */
export const KNOWN_ANALYSES = ['text', 'training', 'clip', 'bias'] as const;

export interface AnalysisStatus {
  name: string;
  /** Part of this audit (listed in audit.json `analyses`). */
  ran: boolean;
  measured: number;
  flagged: number;
  notMeasured: number;
  /** Distinct reasons why models were not measured, most common first (at most 3). */
  reasons: string[];
}

const TextEvidenceView = z.object({
  evidence: z.array(
    z.object({ lang: z.string(), sourceKind: z.string(), score: z.number(), fixedIn: z.string().nullable() }),
  ),
});

const TrainingView = z.object({
  status: z.string(),
  findings: z.array(z.object({ rule: z.string(), severity: z.string(), title: z.string() })),
});

const ClipView = z.object({
  mode: z.string(),
  alpha: z.number(),
  nullK: z.number(),
  seed: z.number(),
  summary: z
    .object({
      scored: z.number(),
      decided: z.number(),
      flagged: z.number(),
      low_match_rate: z.number().nullable(),
      low_match_ci_low: z.number().nullable(),
      low_match_ci_high: z.number().nullable(),
    })
    .nullable(),
});

export interface ClipModelRate {
  modelId: number;
  name: string;
  rate: number;
  low: number;
  high: number;
  scored: number;
  flagged: boolean;
}

export interface ClipView {
  mode: string;
  alpha: number;
  nullK: number;
  seed: number;
  /** Own-prompt cosines of scored images, split by the calibrated decision. */
  cosines: { low: number[]; ok: number[]; undecided: number[] };
  /** Median over images of the per-image null quantile (calibrated) or the raw threshold. */
  cut: number | null;
  imagesScored: number;
  imagesLow: number;
  models: ClipModelRate[];
}

export interface BiasView {
  models: Array<{ model: DocumentModel; evidence: BiasModelEvidenceT }>;
  summary: z.infer<typeof BiasSummary> | null;
}

export interface ReportView {
  doc: AuditDocument;
  n: number;
  counts: { flagged: number; clean: number; unknown: number };
  flaggedShare: ProportionInterval | null;
  analyses: AnalysisStatus[];
  text: {
    /** lang → source kind → evidence items (user reports of tag errors). */
    byLang: Map<string, Map<string, number>>;
    reports: number;
    modelsWithReports: number;
  };
  training: {
    /** rule → findings and models (warnings and errors only). */
    byRule: Map<string, { findings: number; models: number }>;
    modelsWithConflicts: number;
  };
  clip: ClipView | null;
  bias: BiasView | null;
  /** Models sorted flagged first, then by number of findings. */
  flaggedModels: DocumentModel[];
  period: string;
}

function statusOf(doc: AuditDocument, name: string): AnalysisStatus {
  const ran = doc.analyses.includes(name);
  let measured = 0;
  let flagged = 0;
  let notMeasured = 0;
  const reasons = new Map<string, number>();
  for (const m of doc.models) {
    const o = m.outcomes[name];
    if (!o) continue;
    if (o.flagged === null) {
      notMeasured++;
      const r = o.unmeasured ?? 'no reason given';
      reasons.set(r, (reasons.get(r) ?? 0) + 1);
    } else {
      measured++;
      if (o.flagged) flagged++;
    }
  }
  const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 3);
  return { name, ran, measured, flagged, notMeasured, reasons: top.map(([r]) => r) };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function clipView(doc: AuditDocument): ClipView | null {
  if (!doc.analyses.includes('clip')) return null;
  let mode: z.infer<typeof ClipView> | null = null;
  const models: ClipModelRate[] = [];
  for (const m of doc.models) {
    const parsed = ClipView.safeParse(m.analyses.clip);
    if (!parsed.success) continue;
    mode ??= parsed.data;
    const s = parsed.data.summary;
    if (s && s.decided > 0 && s.low_match_rate !== null) {
      models.push({
        modelId: m.modelId,
        name: m.name,
        rate: s.low_match_rate,
        low: s.low_match_ci_low ?? s.low_match_rate,
        high: s.low_match_ci_high ?? s.low_match_rate,
        scored: s.scored,
        flagged: m.outcomes.clip?.flagged === true,
      });
    }
  }
  if (!mode) return null;
  const cosines = { low: [] as number[], ok: [] as number[], undecided: [] as number[] };
  const nullQ: number[] = [];
  for (const row of doc.rows) {
    if (row.row_type !== 'image') continue;
    const cos = num(row.clip_cosine);
    if (cos === null) continue;
    if (row.low_match === true) cosines.low.push(cos);
    else if (row.low_match === false) cosines.ok.push(cos);
    else cosines.undecided.push(cos);
    const q = num(row.clip_null_quantile);
    if (q !== null) nullQ.push(q);
  }
  const raw = doc.options.clipThreshold;
  const cut = mode.mode === 'calibrated' ? (nullQ.length > 0 ? quantile(nullQ, 0.5) : null) : (raw ?? null);
  models.sort((a, b) => b.rate - a.rate || a.modelId - b.modelId);
  return {
    mode: mode.mode,
    alpha: mode.alpha,
    nullK: mode.nullK,
    seed: mode.seed,
    cosines,
    cut,
    imagesScored: cosines.low.length + cosines.ok.length + cosines.undecided.length,
    imagesLow: cosines.low.length,
    models,
  };
}

function biasView(doc: AuditDocument): BiasView | null {
  const models: BiasView['models'] = [];
  for (const m of doc.models) {
    if (m.analyses.bias === undefined) continue;
    const parsed = BiasModelEvidence.safeParse(m.analyses.bias);
    if (parsed.success) models.push({ model: m, evidence: parsed.data });
  }
  const summary = BiasSummary.safeParse(doc.summaries.bias);
  if (models.length === 0 && !summary.success) return null;
  return { models, summary: summary.success ? summary.data : null };
}

/** Build the report view of an audit document. */
export function reportView(doc: AuditDocument): ReportView {
  const counts = { flagged: 0, clean: 0, unknown: 0 };
  for (const m of doc.models) counts[m.verdict]++;
  const byLang = new Map<string, Map<string, number>>();
  let reports = 0;
  let modelsWithReports = 0;
  const byRule = new Map<string, { findings: number; models: number }>();
  let modelsWithConflicts = 0;
  for (const m of doc.models) {
    const text = TextEvidenceView.safeParse(m.analyses.text);
    if (text.success) {
      const live = text.data.evidence.filter((e) => e.fixedIn === null);
      if (live.length > 0 && m.outcomes.text?.flagged) modelsWithReports++;
      for (const e of live) {
        const kinds = byLang.get(e.lang) ?? new Map<string, number>();
        kinds.set(e.sourceKind, (kinds.get(e.sourceKind) ?? 0) + 1);
        byLang.set(e.lang, kinds);
        reports++;
      }
    }
    const training = TrainingView.safeParse(m.analyses.training);
    if (training.success && training.data.status === 'ok') {
      const rules = new Set<string>();
      for (const f of training.data.findings) {
        if (f.severity === 'info') continue;
        const entry = byRule.get(f.rule) ?? { findings: 0, models: 0 };
        entry.findings++;
        if (!rules.has(f.rule)) entry.models++;
        rules.add(f.rule);
        byRule.set(f.rule, entry);
      }
      if (rules.size > 0) modelsWithConflicts++;
    }
  }
  const flaggedModels = doc.models
    .filter((m) => m.verdict === 'flagged')
    .sort((a, b) => b.findings.length - a.findings.length || a.modelId - b.modelId);
  const sel = doc.selection;
  const period = sel.kind === 'top' ? `${sel.from} – ${sel.to}` : `${doc.generatedAt.slice(0, 10)}`;
  return {
    doc,
    n: doc.models.length,
    counts,
    flaggedShare: wilsonInterval(counts.flagged, doc.models.length),
    analyses: KNOWN_ANALYSES.map((name) => statusOf(doc, name)).concat(
      doc.analyses
        .filter((a) => !(KNOWN_ANALYSES as readonly string[]).includes(a))
        .map((a) => statusOf(doc, a)),
    ),
    text: { byLang, reports, modelsWithReports },
    training: { byRule, modelsWithConflicts },
    clip: clipView(doc),
    bias: biasView(doc),
    flaggedModels,
    period,
  };
}

/** The command that reproduces this audit (flags derived from the recorded selection and options). */
export function reproduceCommand(doc: AuditDocument): string {
  const q = (s: string): string => (/^[\w.:/@=-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);
  const sel = doc.selection;
  const parts = ['loralens', 'audit'];
  if (sel.kind === 'model') parts.push('--model', q(sel.ref));
  else if (sel.kind === 'hash') parts.push('--hash', q(sel.hash));
  else if (sel.kind === 'file') parts.push('--file', q(sel.path));
  else {
    parts.push('--top', String(sel.n), '--types', sel.types.join(','), '--sort', q(sel.sort));
    parts.push('--period', sel.period, '--from', sel.from, '--to', sel.to);
    if (sel.nsfw) parts.push('--nsfw');
    if (sel.baseModels.length > 0) parts.push('--base-model', ...sel.baseModels.map(q));
  }
  const o = doc.options;
  if (!o.comments) parts.push('--no-comments');
  parts.push('--images-per-version', String(o.imagesPerVersion));
  parts.push('--max-nsfw-level', String(highestLevel(o.maxBrowsingLevel)));
  if (o.clipThreshold !== undefined) parts.push('--clip-threshold', String(o.clipThreshold));
  if (o.clipAlpha !== undefined) parts.push('--clip-alpha', String(o.clipAlpha));
  if (o.clipNullK !== undefined) parts.push('--clip-null-k', String(o.clipNullK));
  if (o.reference.kind === 'dir') parts.push('--reference', q(o.reference.path));
  else if (o.reference.kind === 'model') parts.push('--reference-model', q(o.reference.ref));
  parts.push('--seed', String(o.seed));
  return parts.join(' ');
}

/** The highest Civitai level of a browsing-level value (a level or a mask). */
export function highestLevel(mask: number): number {
  let level = 1;
  while (level * 2 <= mask) level *= 2;
  return level;
}
