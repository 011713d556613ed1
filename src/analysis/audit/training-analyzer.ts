import { z } from 'zod';
import type { ModelRecord, VersionRecord } from '../civitai/record.ts';
import { analyzeTrainingTags, trainingReportColumns } from '../training/tag-analysis.ts';
import { type Analyzer, emptyOutput, type ModelAnalysis } from './analyzer.ts';
import { findingKey } from './finding-key.ts';
import { analyzePerModel, type ModelResultCache } from './model-results.ts';

/**
 * Bump whenever the training-tag analysis can give another result for the same record (a rule, a
 * threshold, the columns or the evidence): part of the key of stored results.
 */
export const TRAINING_ANALYZER_VERSION = 'training-1';

/**
 * The version whose file header is analysed: the one the user pointed at (URL, hash, local file)
 * when it has a header, else the newest one with a readable header.
 */
function headerVersion(record: ModelRecord): VersionRecord | undefined {
  const target = record.versions.find((v) => v.id === record.targetVersionId && v.training !== null);
  return (
    target ??
    record.versions.find((v) => v.training?.status === 'ok') ??
    record.versions.find((v) => v.training !== null)
  );
}

/**
 * The `training_status` column: `ok` (tags measured), `no-training-metadata` (no header, or none of
 * the tags in it), `error` (the file header could not be read, e.g. the read stayed incomplete
 * after the retries): a failed read must never look like a file without metadata.
 */
export const TrainingStatus = z.enum(['ok', 'no-training-metadata', 'error']);
export type TrainingStatus = z.infer<typeof TrainingStatus>;

/** Training-tag analysis of the LoRA header (`ss_tag_frequency`) against the model page's trigger words. */
export function createTrainingAnalyzer(
  options: { cache?: ModelResultCache; onCompute?: (modelId: number) => void } = {},
): Analyzer {
  return {
    name: 'training',
    columns: ['tag_error_training', 'training_conflicts', 'training_status'],
    async analyze(records) {
      const out = emptyOutput();
      const perModel = await analyzePerModel(
        records,
        {
          name: 'training',
          version: TRAINING_ANALYZER_VERSION,
          cache: options.cache,
          ...(options.onCompute ? { onCompute: options.onCompute } : {}),
        },
        (record): ModelAnalysis => {
          const version = headerVersion(record);
          const report = analyzeTrainingTags({
            metadata: version?.training?.metadata ?? null,
            trainedWordsByVersion: record.versions.map((v) => ({
              versionId: v.id,
              versionName: v.name,
              trainedWords: v.trainedWords,
            })),
            ...(version ? { targetVersionId: version.id } : {}),
          });
          const measured = report.status === 'ok';
          const headerFailed = !measured && version?.training?.status === 'error';
          const status: TrainingStatus = measured ? 'ok' : headerFailed ? 'error' : 'no-training-metadata';
          const findings = report.findings
            .filter((f) => f.severity !== 'info')
            .map((f) => ({
              itemKey: findingKey(
                record.id,
                'training',
                f.rule,
                `${f.folder ?? ''}:${f.evidence.tags.map((t) => t.tag).join(',')}`,
              ),
              detector: 'training' as const,
              rule: f.rule,
              severity: f.severity,
              title: f.title,
              evidence: f.evidence.tags
                .slice(0, 8)
                .map((t) => `${t.tag} ×${t.count}`)
                .join(', ')
                .concat(f.evidence.imageCount ? ` (of ${f.evidence.imageCount} images)` : ''),
              ...(f.folder ? { source: `dataset folder ${f.folder}` } : {}),
              ...(version ? { versionId: version.id } : {}),
            }));
          return {
            flagged: measured ? report.flag : null,
            ...(measured
              ? {}
              : {
                  unmeasured: headerFailed
                    ? `the file header could not be read: ${version?.training?.reason ?? 'unknown error'}`
                    : `no training tags: ${version?.training?.reason ?? (version ? 'none in the file header' : 'no file header was read')}`,
                }),
            findings,
            metrics: {
              ...(measured
                ? trainingReportColumns(report)
                : { tag_error_training: null, training_conflicts: null }),
              training_status: status,
            },
            evidence: {
              ...report,
              headerStatus: version?.training?.status ?? null,
              headerReason: version?.training?.reason ?? 'no version header was read',
            },
          };
        },
      );
      for (const [id, analysis] of perModel) out.perModel.set(id, analysis);
      return out;
    },
  };
}
