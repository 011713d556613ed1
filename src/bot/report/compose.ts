import type { AuditResult } from '../../analysis/audit/service.ts';
import type { Detector, Finding } from '../../analysis/audit/types.ts';
import type { Logger } from '../../analysis/ports.ts';
import { snippet } from '../../analysis/text/snippet.ts';
import { DiscordLimits, formatBytes, truncate } from '../../commands/discord-limits.ts';
import type { OutgoingMessage } from '../../commands/types.ts';
import { t } from '../../i18n/index.ts';
import { type BuiltReport, buildReport, REPORT_FILES } from '../../report/build.ts';
import { type ReportLang, reportLangFor } from '../../report/strings.ts';
import { evidenceItems } from '../../report/zip.ts';
import type { DetectorStats, FeedbackItem, FeedbackStore } from '../../storage/feedback-store.ts';
import { escapeUserText } from '../discord-text.ts';
import { buildErrorSamplesZip, chartNames, collectErrorSamples, planAttachments } from './attachments.ts';
import { bySeverity, itemRef, renderReportEmbeds } from './render.ts';

/** Report settings from the bot configuration. */
export interface ReportSettings {
  feedbackEmoji: string;
  /** How many flagged items get their own votable line. */
  feedbackItems: number;
  progressIntervalMs: number;
}

export interface ComposeInput {
  result: AuditResult;
  locale: string;
  nsfwChannel: boolean;
  attachmentLimit: number;
  /**
   * `audit`: an /audit reply (CSV, ZIP, PDF, audit.json); `weekly`: a subscription post (CSV and the
   * PDF in the guild's language, no ZIP). Default `audit`.
   */
  purpose?: 'audit' | 'weekly';
}

export interface ComposeDeps {
  feedback: FeedbackStore;
  fetchImage: (url: string, signal?: AbortSignal) => Promise<Buffer>;
  logger: Logger;
  settings: ReportSettings;
}

/** One votable report line: a message of its own so a reaction identifies the item. */
export interface ItemLine {
  item: FeedbackItem;
  content: string;
}

export interface ComposedReport {
  message: OutgoingMessage;
  items: ItemLine[];
  withheld: number;
}

/**
 * The report files of one result in one language, built once: every requester who joined the same
 * job gets the same chart and PDF (drawing is synchronous work on the bot's thread).
 */
const reportCache = new WeakMap<AuditResult, Map<ReportLang, Promise<BuiltReport>>>();

function reportFor(result: AuditResult, lang: ReportLang, logger: Logger): Promise<BuiltReport> {
  const byLang = reportCache.get(result) ?? new Map<ReportLang, Promise<BuiltReport>>();
  reportCache.set(result, byLang);
  let report = byLang.get(lang);
  if (!report) {
    // Only the charts the embed and the PDF show.
    report = buildReport(result.document, { markdown: false, html: false, pdf: [lang], maxCharts: 2 }).catch(
      (error: unknown) => {
        logger.warn({ err: error }, 'report files could not be built; sending the report without them');
        return { files: [], charts: [], mainChart: null, notes: [] };
      },
    );
    byLang.set(lang, report);
  }
  return report;
}

/** Turn an audit result into the Discord report: embeds, attachments, notes, and votable item lines. */
export async function composeReport(input: ComposeInput, deps: ComposeDeps): Promise<ComposedReport> {
  const { result, locale } = input;
  const findings = result.models.flatMap((m) => m.findings.map((f) => ({ finding: f, model: m })));
  const statuses = await Promise.all(findings.map(({ finding }) => deps.feedback.status(finding.itemKey)));
  const disputed = new Set(
    findings.filter((_, i) => statuses[i]?.disputed).map(({ finding }) => finding.itemKey),
  );
  const detectors = [...new Set(findings.map(({ finding }) => finding.detector))];
  const precision = new Map<Detector, DetectorStats>();
  for (const d of detectors) precision.set(d, await deps.feedback.detectorStats(d));

  const weekly = input.purpose === 'weekly';
  const lang = reportLangFor(locale);
  // The main chart becomes the embed image; the PDF is the summary in the reader's language.
  const built = await reportFor(result, lang, deps.logger);
  const reportFiles = [
    ...(built.mainChart
      ? [{ name: `${built.mainChart.name}.png`, contentType: 'image/png', data: built.mainChart.png }]
      : []),
    ...built.files.filter((f) => f.name === REPORT_FILES.pdf[lang]),
  ];
  const serviceFiles = result.files.filter((f) => !weekly || f.name.endsWith('.csv'));
  const samples = weekly
    ? { images: [], withheld: 0, failed: 0 }
    : await collectErrorSamples(
        evidenceItems(result.document),
        input.nsfwChannel,
        deps.fetchImage,
        deps.logger,
      );
  const allFiles = [...serviceFiles, ...reportFiles];
  const plan = planAttachments(allFiles, samples.images, input.attachmentLimit, (kept) =>
    buildErrorSamplesZip(result.document, kept, {
      nsfwChannel: input.nsfwChannel,
      withheld: samples.withheld,
      failed: samples.failed,
    }),
  );
  const embeds = renderReportEmbeds({
    result,
    locale,
    disputed,
    precision,
    chartNames: chartNames(plan.files, allFiles),
    feedbackEmoji: deps.settings.feedbackEmoji,
  });

  const notes: string[] = [];
  if (samples.withheld > 0) notes.push(t(locale, 'report.withheld', { count: samples.withheld }));
  if (plan.zipReduced) notes.push(t(locale, 'report.zipReduced', { ...plan.zipReduced }));
  for (const o of plan.omitted) {
    const reason =
      o.reason === 'tooLarge'
        ? t(locale, 'report.omitted.tooLarge', { limit: formatBytes(input.attachmentLimit) })
        : t(locale, 'report.omitted.tooMany');
    notes.push(t(locale, 'report.omitted', { file: o.name, reason }));
  }

  const active = findings.filter(({ finding }) => !disputed.has(finding.itemKey));
  const ordered = bySeverity(active.map((a) => a.finding));
  const modelOf = new Map<Finding, string>(active.map((a) => [a.finding, a.model.name]));
  const items: ItemLine[] = ordered.slice(0, deps.settings.feedbackItems).map((finding) => {
    const model = result.models.find((m) => m.findings.includes(finding));
    return {
      item: {
        itemKey: finding.itemKey,
        modelId: model?.modelId ?? 0,
        detector: finding.detector,
        rule: finding.rule,
        title: finding.title,
      },
      content: truncate(
        t(locale, 'report.item', {
          ref: itemRef(finding.itemKey),
          title: escapeUserText(finding.title),
          model: escapeUserText(modelOf.get(finding) ?? ''),
          evidence: truncate(escapeUserText(snippet(finding.evidence, 400)), 800),
          detector: finding.detector,
          emoji: deps.settings.feedbackEmoji,
        }),
        DiscordLimits.content,
      ),
    };
  });

  return {
    message: { content: truncate(notes.join('\n'), DiscordLimits.content), embeds, files: plan.files },
    items,
    withheld: samples.withheld,
  };
}
