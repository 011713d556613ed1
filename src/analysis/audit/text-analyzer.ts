import type { ModelRecord } from '../civitai/record.ts';
import { defaultDetectorModelFingerprint } from '../text/detector/model.ts';
import { snippetAround } from '../text/snippet.ts';
import { scanSourcesAsync, type TextSource, textReportColumns } from '../text/tag-error-reports.ts';
import { type Analyzer, emptyOutput, type ModelAnalysis } from './analyzer.ts';
import { findingKey } from './finding-key.ts';
import { analyzePerModel, type ModelResultCache } from './model-results.ts';

/**
 * Bump whenever the text analysis can give another result for the same record and detector weights
 * (the scanning rules, the verdict, the columns or the evidence): part of the key of stored results.
 */
export const TEXT_ANALYZER_VERSION = 'text-1';

/** The texts of a model the text detector reads: description, changelogs, comments, reviews. */
export function textSources(record: ModelRecord): TextSource[] {
  const sources: TextSource[] = [];
  if (record.descriptionText)
    sources.push({
      kind: 'description',
      id: 'description',
      label: 'description',
      text: record.descriptionText,
      author: record.creator,
      versionId: null,
    });
  for (const v of record.versions) {
    if (v.changelogText) {
      sources.push({
        kind: 'changelog',
        id: `version:${v.id}`,
        label: `version ${v.name} changelog`,
        text: v.changelogText,
        author: record.creator,
        versionId: v.id,
      });
    }
  }
  for (const item of record.comments.items) {
    const kind = item.kind === 'review' ? 'review' : 'comment';
    const label =
      item.kind === 'review'
        ? `review ${item.id}`
        : item.kind === 'review-comment'
          ? `reply ${item.id} to review ${item.parentId}`
          : `comment ${item.id}`;
    sources.push({
      kind,
      id: `${kind}:${item.id}`,
      label,
      text: item.text,
      author: item.user,
      versionId: item.versionId,
    });
  }
  return sources;
}

/** Characters of context each side of a reported span, as the text detector keeps. */
const CONTEXT_CHARS = 60;

/** Whole words around the span (the detector's own context is a raw ±60-character window). */
function evidenceText(
  source: string | undefined,
  e: { start: number; end: number; context: string },
): string {
  return source === undefined ? e.context : snippetAround(source, e.start, e.end, CONTEXT_CHARS);
}

/**
 * User-reported tag errors in description, changelogs, comments and reviews (multilingual).
 * A model whose comments could not be read is still measured on its own texts; the evidence says so.
 */
export function createTextAnalyzer(
  options: { threshold?: number; cache?: ModelResultCache; onCompute?: (modelId: number) => void } = {},
): Analyzer {
  return {
    name: 'text',
    columns: ['tag_error_text', 'tag_error_text_score', 'text_sources_scanned'],
    async analyze(records) {
      const out = emptyOutput();
      const perModel = await analyzePerModel(
        records,
        {
          name: 'text',
          // The detector's weights are part of the version: a retrained model never reuses old verdicts.
          version: `${TEXT_ANALYZER_VERSION}:${options.cache ? defaultDetectorModelFingerprint() : ''}`,
          options: { threshold: options.threshold ?? null },
          cache: options.cache,
          ...(options.onCompute ? { onCompute: options.onCompute } : {}),
        },
        async (record): Promise<ModelAnalysis> => {
          const sources = textSources(record);
          const textOf = new Map(sources.map((s) => [s.id, s.text]));
          const verdict = await scanSourcesAsync(sources, {
            ...(options.threshold === undefined ? {} : { threshold: options.threshold }),
            versions: record.versions.map((v) => ({ id: v.id, name: v.name })),
            creator: record.creator,
          });
          const findings = verdict.flag
            ? verdict.evidence
                .filter((e) => e.score >= 0.3 && e.fixedIn === null)
                .sort((a, b) => b.score - a.score)
                .slice(0, 20)
                .map((e) => ({
                  itemKey: findingKey(record.id, 'text', e.rule, `${e.sourceId}:${e.span}`),
                  detector: 'text' as const,
                  rule: e.rule,
                  severity: e.score >= 0.7 ? ('error' as const) : ('warning' as const),
                  title: `Reported tag error (${e.lang}) in ${e.sourceLabel}`,
                  evidence: evidenceText(textOf.get(e.sourceId), e),
                  source: e.sourceLabel,
                }))
            : [];
          return {
            flagged: sources.length === 0 ? null : verdict.flag,
            ...(sources.length === 0
              ? {
                  unmeasured:
                    record.comments.status === 'ok'
                      ? 'no text to scan'
                      : 'no description or changelog, and comments were not read',
                }
              : {}),
            findings,
            metrics: {
              // Nothing scanned is not measured: empty cells, not "false, 0".
              ...(sources.length === 0
                ? { tag_error_text: null, tag_error_text_score: null }
                : textReportColumns(verdict)),
              text_sources_scanned: verdict.scannedSources,
            },
            // The verdict line names reporters and fixed versions when there is something to say.
            ...(verdict.flag || verdict.fixedReports > 0 ? { note: verdict.summary } : {}),
            evidence: {
              ...verdict,
              commentsStatus: record.comments.status,
              commentsReason: record.comments.reason,
            },
          };
        },
      );
      for (const [id, analysis] of perModel) out.perModel.set(id, analysis);
      return out;
    },
  };
}
