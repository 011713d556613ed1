import type { ModelRecord } from '../civitai/record.ts';
import type { Analyzer, AnalyzerOutput, ModelAnalysis } from './analyzer.ts';
import { AUDIT_SCHEMA_VERSION, type AuditDocument, type DocumentImage } from './document.ts';
import { type CsvRow, ModelRow, mergeImageRows, renderMetricsCsv } from './metrics-csv.ts';
import type { AuditResult, FlaggedImage, ModelAuditSummary } from './service.ts';
import type { AuditRunOptions, AuditSelection, Finding } from './types.ts';

export const TOOL = { name: 'loralens', version: '0.1.0' } as const;

/** The model row every audit writes, before analyses add their columns. */
export function baseModelRow(
  record: ModelRecord,
  verdict: Pick<ModelAuditSummary, 'verdict' | 'verdictLine'>,
): ModelRow {
  const imageCount = record.versions.reduce((n, v) => n + v.images.length, 0);
  return ModelRow.parse({
    row_type: 'model',
    model_id: record.id,
    model_name: record.name,
    type: record.type,
    creator: record.creator,
    version_count: record.versions.length,
    published_at: record.publishedAt,
    updated_at: record.updatedAt,
    download_count: record.stats.downloadCount,
    image_count: imageCount,
    comment_count: record.stats.commentCount,
    comments_read: record.comments.status === 'ok' ? record.comments.items.length : null,
    has_training_tags: record.versions.some((v) => v.training?.tagFrequency != null),
    verdict: verdict.verdict,
    verdict_reason: verdict.verdictLine,
  });
}

const whyNot = ([name, a]: [string, ModelAnalysis]): string =>
  a.unmeasured ? `${name} (${a.unmeasured})` : name;

/**
 * flagged when any analysis flagged the model; clean when at least one measured it and none
 * flagged; unknown when none could measure anything. The line names which analysis did what, and
 * why the others measured nothing.
 */
export function verdictOf(
  analyses: Array<[string, ModelAnalysis]>,
): Pick<ModelAuditSummary, 'verdict' | 'verdictLine'> {
  // Informational analyses (bias metrics) measure, they do not detect: they never decide the verdict.
  const deciding = analyses.filter(([, a]) => !a.informational);
  const flagged = deciding.filter(([, a]) => a.flagged === true).map(([n]) => n);
  const measured = deciding.filter(([, a]) => a.flagged !== null).map(([n]) => n);
  const unmeasured = deciding.filter(([, a]) => a.flagged === null).map(whyNot);
  const notes = analyses
    .filter(([, a]) => a.flagged !== null && a.note)
    .map(([n, a]) => ` ${n}: ${a.note}.`)
    .join('');
  if (flagged.length > 0)
    return {
      verdict: 'flagged',
      verdictLine: `Possible tag errors found by: ${flagged.join(', ')}.${notes}`,
    };
  if (measured.length > 0) {
    return {
      verdict: 'clean',
      verdictLine: `No tag errors found by: ${measured.join(', ')}${unmeasured.length ? `; not measured: ${unmeasured.join(', ')}` : ''}.${notes}`,
    };
  }
  return {
    verdict: 'unknown',
    verdictLine:
      deciding.length === 0
        ? `Metadata only: no tag-error analysis was run.${notes}`
        : notes
          ? `No tag-error analysis could measure anything: ${unmeasured.join(', ')}.${notes}`
          : `Nothing could be measured: ${unmeasured.join(', ')}.`,
  };
}

/** Sample images of a flagged model kept as evidence in error_samples.zip. */
const SAMPLES_PER_FLAGGED_MODEL = 6;

function samplesOf(record: ModelRecord, reason: string): DocumentImage[] {
  return record.versions
    .flatMap((v) =>
      v.images
        .filter((im) => im.kind === 'image')
        .map((im) => ({
          modelId: record.id,
          versionId: v.id,
          imageId: im.id,
          url: im.url,
          nsfwLevel: im.nsfwLevel,
          reason,
          prompt: im.prompt,
        })),
    )
    .slice(0, SAMPLES_PER_FLAGGED_MODEL);
}

function flaggedBy(outcomes: AuditDocument['models'][number]['outcomes'] | undefined): string {
  return Object.entries(outcomes ?? {})
    .filter(([, o]) => o.flagged === true)
    .map(([n]) => n)
    .join(', ');
}

export interface BuildInput {
  selection: AuditSelection;
  options: AuditRunOptions;
  records: readonly ModelRecord[];
  analyzers: readonly Analyzer[];
  outputs: readonly AnalyzerOutput[];
  notes: readonly string[];
  now: Date;
}

/** Assemble summaries, metrics.csv and audit.json from records and analyzer outputs. */
export function buildAuditResult(input: BuildInput): AuditResult {
  const { records, analyzers, outputs } = input;
  const models: ModelAuditSummary[] = [];
  const rows: CsvRow[] = [];
  const columns = analyzers.flatMap((a) => a.columns);
  const perModelEvidence: Array<Record<string, unknown>> = [];
  const perModelOutcomes: Array<AuditDocument['models'][number]['outcomes']> = [];
  for (const record of records) {
    const analyses: Array<[string, ModelAnalysis]> = [];
    analyzers.forEach((a, i) => {
      const analysis = outputs[i]?.perModel.get(record.id);
      if (analysis) analyses.push([a.name, analysis]);
    });
    const verdict = verdictOf(analyses);
    const base = baseModelRow(record, verdict);
    const row: CsvRow = { ...base };
    for (const c of columns) row[c] = null;
    for (const [, a] of analyses) Object.assign(row, a.metrics);
    const findings: Finding[] = analyses.flatMap(([, a]) => a.findings);
    models.push({
      modelId: record.id,
      name: record.name,
      url: record.url,
      creator: record.creator,
      type: record.type,
      versionCount: base.version_count,
      publishedAt: record.publishedAt,
      updatedAt: record.updatedAt,
      downloadCount: base.download_count,
      imageCount: base.image_count,
      commentCount: base.comment_count,
      commentsRead: base.comments_read,
      hasTrainingTags: base.has_training_tags,
      commentsStatus: record.comments.status,
      commentsReason: record.comments.reason,
      ...verdict,
      findings,
      metrics: row,
    });
    rows.push(row);
    perModelEvidence.push(Object.fromEntries(analyses.map(([n, a]) => [n, a.evidence])));
    perModelOutcomes.push(
      Object.fromEntries(
        analyses.map(([n, a]) => [n, { flagged: a.flagged, unmeasured: a.unmeasured ?? null }]),
      ),
    );
  }
  const extraRows = mergeImageRows(outputs.flatMap((o) => o.rows));
  const notes = [...input.notes, ...outputs.flatMap((o) => o.notes)];
  const flaggedImages: FlaggedImage[] = outputs.flatMap((o) => o.flaggedImages);
  const metricsCsv = renderMetricsCsv([...rows, ...extraRows], columns);
  const prompts = new Map(
    records.flatMap((r) => r.versions.flatMap((v) => v.images.map((im) => [`${v.id}:${im.id}`, im.prompt]))),
  );
  const document: AuditDocument = {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    tool: { ...TOOL },
    generatedAt: input.now.toISOString(),
    selection: input.selection,
    options: input.options,
    analyses: analyzers.map((a) => a.name),
    notes,
    summaries: Object.fromEntries(
      analyzers.flatMap((a, i) => {
        const summary = outputs[i]?.summary;
        return summary === undefined ? [] : [[a.name, summary]];
      }),
    ),
    models: models.map((m, i) => ({
      ...m,
      commentsReason: m.commentsReason ?? null,
      versions: (records[i]?.versions ?? []).map((v) => ({
        id: v.id,
        name: v.name,
        baseModel: v.baseModel,
        sha256: (v.files.find((f) => f.primary) ?? v.files[0])?.sha256 ?? null,
      })),
      outcomes: perModelOutcomes[i] ?? {},
      analyses: perModelEvidence[i] ?? {},
      samples:
        m.verdict === 'flagged' && records[i]
          ? samplesOf(records[i], `sample image of a model flagged by ${flaggedBy(perModelOutcomes[i])}`)
          : [],
    })),
    rows: extraRows,
    flaggedImages: flaggedImages.map((f) => ({
      ...f,
      prompt: prompts.get(`${f.versionId}:${f.imageId}`) ?? null,
    })),
  };
  const auditJson = {
    ...document,
    models: document.models.map((m, i) => ({
      ...m,
      comments: {
        status: records[i]?.comments.status,
        reason: records[i]?.comments.reason ?? null,
      },
    })),
  };
  return {
    generatedAt: input.now.toISOString(),
    selection: input.selection,
    models,
    analyses: analyzers.map((a) => a.name),
    notes,
    flaggedImages,
    document,
    files: [
      { name: 'metrics.csv', contentType: 'text/csv; charset=utf-8', data: Buffer.from(metricsCsv, 'utf8') },
      {
        name: 'audit.json',
        contentType: 'application/json',
        data: Buffer.from(`${JSON.stringify(auditJson, null, 2)}\n`, 'utf8'),
      },
    ],
  };
}
