import { createHash } from 'node:crypto';
import type { APIEmbed } from 'discord.js';
import type { AuditResult, ModelAuditSummary } from '../../analysis/audit/service.ts';
import type { Detector, Finding } from '../../analysis/audit/types.ts';
import { snippet } from '../../analysis/text/snippet.ts';
import { clampEmbeds, DiscordLimits, truncate } from '../../commands/discord-limits.ts';
import { t } from '../../i18n/index.ts';
import { reportView } from '../../report/view.ts';
import type { DetectorStats } from '../../storage/feedback-store.ts';
import { escapeUserText } from '../discord-text.ts';

/** Short, stable reference a report shows next to a flagged item (first 6 hex of sha256(itemKey)). */
export function itemRef(itemKey: string): string {
  return createHash('sha256').update(itemKey).digest('hex').slice(0, 6);
}

const COLORS = { flagged: 0xd9534f, clean: 0x5cb85c, unknown: 0x9e9e9e } as const;
const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

export interface RenderInput {
  result: AuditResult;
  locale: string;
  /** itemKeys readers disputed: shown struck through and excluded from counts. */
  disputed: ReadonlySet<string>;
  precision: ReadonlyMap<Detector, DetectorStats>;
  chartNames: readonly string[];
  feedbackEmoji: string;
}

export type EffectiveVerdict = ModelAuditSummary['verdict'] | 'allDisputed';

/** A model's verdict once disputed findings are excluded. */
export function effectiveVerdict(model: ModelAuditSummary, disputed: ReadonlySet<string>): EffectiveVerdict {
  if (model.verdict !== 'flagged') return model.verdict;
  const active = model.findings.filter((f) => !disputed.has(f.itemKey));
  if (model.findings.length > 0 && active.length === 0) return 'allDisputed';
  return 'flagged';
}

/** Findings ordered by severity (errors first), stable otherwise. */
export function bySeverity(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
}

/** Build the report embeds (within Discord's limits). */
export function renderReportEmbeds(input: RenderInput): APIEmbed[] {
  const { result } = input;
  const embeds =
    result.selection.kind === 'top'
      ? [renderTop(input)]
      : result.models[0]
        ? [renderModel(result.models[0], input)]
        : [];
  if (embeds.length === 0) return [{ description: t(input.locale, 'report.noModels') }];
  const [first, ...more] = input.chartNames;
  const main = embeds[0];
  if (main && first) main.image = { url: `attachment://${first}` };
  for (const chart of more.slice(0, DiscordLimits.embedsPerMessage - 1)) {
    embeds.push({ image: { url: `attachment://${chart}` } });
  }
  return clampEmbeds(embeds);
}

function verdictLabel(locale: string, verdict: EffectiveVerdict): string {
  return t(locale, `report.verdict.${verdict}`);
}

function findingLine(f: Finding, disputed: boolean, locale: string): string {
  const ref = `\`${itemRef(f.itemKey)}\``;
  const title = escapeUserText(f.title);
  if (disputed) return `~~${ref} ${title}~~ *(${t(locale, 'report.disputedTag')})*`;
  return `${ref} **${title}** — “${truncate(escapeUserText(snippet(f.evidence, 180)), 360)}”`;
}

function appendLines(head: string, lines: readonly string[], max: number): string {
  let out = head;
  for (const line of lines) {
    const next = out.length === 0 ? line : `${out}\n${line}`;
    if (next.length > max) break;
    out = next;
  }
  return out;
}

function precisionField(input: RenderInput, detectors: ReadonlySet<Detector>): APIEmbed['fields'] {
  const lines: string[] = [];
  for (const detector of detectors) {
    const stats = input.precision.get(detector);
    if (!stats || stats.shown === 0) continue;
    const percent = Math.round((100 * (stats.shown - stats.disputed)) / stats.shown);
    lines.push(
      t(input.locale, 'report.precision.line', {
        detector,
        percent,
        disputed: stats.disputed,
        shown: stats.shown,
      }),
    );
  }
  return lines.length === 0
    ? []
    : [{ name: t(input.locale, 'report.field.precision'), value: lines.join('\n') }];
}

function footer(input: RenderInput): NonNullable<APIEmbed['footer']> {
  const date = input.result.generatedAt.slice(0, 10);
  return {
    text: `${t(input.locale, 'report.footer', { date })} · ${t(input.locale, 'report.feedbackHint', { emoji: input.feedbackEmoji })}`,
  };
}

function notesField(input: RenderInput): NonNullable<APIEmbed['fields']> {
  if (input.result.notes.length === 0) return [];
  return [
    {
      name: t(input.locale, 'report.field.notes'),
      value: input.result.notes.map((n) => `• ${n}`).join('\n'),
    },
  ];
}

function renderModel(model: ModelAuditSummary, input: RenderInput): APIEmbed {
  const { locale, disputed } = input;
  const verdict = effectiveVerdict(model, disputed);
  const findings = bySeverity(model.findings);
  const active = findings.filter((f) => !disputed.has(f.itemKey));
  const head = `**${verdictLabel(locale, verdict)}** — ${escapeUserText(model.verdictLine)}`;
  const lines = findings.map((f) => findingLine(f, disputed.has(f.itemKey), locale));
  const description = appendLines(`${head}\n`, lines, DiscordLimits.embedDescription - 2);
  const comments =
    model.commentsStatus === 'ok'
      ? t(locale, 'report.comments.ok', { count: model.commentsRead ?? model.commentCount })
      : t(locale, `report.comments.${model.commentsStatus}`);
  const disputedCount = findings.length - active.length;
  const findingsValue = [
    t(locale, 'report.findings.count', { active: active.length }),
    ...(disputedCount > 0 ? [t(locale, 'report.findings.disputed', { disputed: disputedCount })] : []),
  ].join(' · ');
  const embed: APIEmbed = {
    title: escapeUserText(model.name),
    url: model.url,
    color: COLORS[verdict === 'allDisputed' ? 'clean' : verdict],
    description,
    fields: [
      { name: t(locale, 'report.field.type'), value: model.type, inline: true },
      { name: t(locale, 'report.field.versions'), value: String(model.versionCount), inline: true },
      {
        name: t(locale, 'report.field.downloads'),
        value: model.downloadCount.toLocaleString('en-US'),
        inline: true,
      },
      { name: t(locale, 'report.field.images'), value: String(model.imageCount), inline: true },
      { name: t(locale, 'report.field.comments'), value: comments, inline: true },
      { name: t(locale, 'report.field.findings'), value: findingsValue, inline: true },
      ...(precisionField(input, new Set(findings.map((f) => f.detector))) ?? []),
      ...notesField(input),
    ],
    footer: footer(input),
  };
  if (model.creator) embed.author = { name: model.creator };
  return embed;
}

/** The 3–6 key numbers of a top-N report: verdict counts, CLIP low matches, what was not measured. */
function keyNumbers(
  input: RenderInput,
  counts: { flagged: number; clean: number; unknown: number },
): NonNullable<APIEmbed['fields']> {
  const { locale, result } = input;
  const total = result.models.length;
  const view = reportView(result.document);
  const fields: NonNullable<APIEmbed['fields']> = [
    {
      name: t(locale, 'report.field.flagged'),
      value: t(locale, 'report.share', {
        count: counts.flagged,
        total,
        percent: total > 0 ? Math.round((100 * counts.flagged) / total) : 0,
      }),
      inline: true,
    },
    { name: t(locale, 'report.field.clean'), value: String(counts.clean), inline: true },
    { name: t(locale, 'report.field.unknown'), value: String(counts.unknown), inline: true },
  ];
  if (view.clip && view.clip.imagesScored > 0)
    fields.push({
      name: t(locale, 'report.field.lowMatch'),
      value: t(locale, 'report.share', {
        count: view.clip.imagesLow,
        total: view.clip.imagesScored,
        percent: Math.round((100 * view.clip.imagesLow) / view.clip.imagesScored),
      }),
      inline: true,
    });
  const missing = view.analyses.filter((a) => !a.ran || a.measured === 0).map((a) => a.name);
  if (missing.length > 0)
    fields.push({ name: t(locale, 'report.field.notMeasured'), value: missing.join(', '), inline: true });
  return fields;
}

function renderTop(input: RenderInput): APIEmbed {
  const { locale, disputed, result } = input;
  const selection = result.selection;
  const counts = { flagged: 0, clean: 0, unknown: 0 };
  const flaggedLines: string[] = [];
  for (const model of result.models) {
    const verdict = effectiveVerdict(model, disputed);
    const bucket = verdict === 'allDisputed' ? 'clean' : verdict;
    counts[bucket]++;
    if (verdict === 'flagged') {
      const active = model.findings.filter((f) => !disputed.has(f.itemKey));
      const refs = bySeverity(active)
        .slice(0, 3)
        .map((f) => `\`${itemRef(f.itemKey)}\``)
        .join(' ');
      flaggedLines.push(
        `• [${truncate(escapeUserText(model.name), 80)}](${model.url}) — ${truncate(escapeUserText(model.verdictLine), 160)} ${refs}`,
      );
    }
  }
  const summary = t(locale, 'report.top.summary', { total: result.models.length, ...counts });
  let description = appendLines(`${summary}\n`, flaggedLines, DiscordLimits.embedDescription - 120);
  const shown = description.split('\n').length - 2;
  if (shown < flaggedLines.length) {
    description += `\n${t(locale, 'report.top.more', { count: flaggedLines.length - Math.max(0, shown) })}`;
  }
  const title =
    selection.kind === 'top'
      ? t(locale, 'report.top.title', {
          n: selection.n,
          types: selection.types.join(' + '),
          sort: t(locale, `choice.sort.${selection.sort}`),
          period: t(locale, `choice.period.${selection.period}`),
        })
      : 'loralens';
  const detectors = new Set(result.models.flatMap((m) => m.findings.map((f) => f.detector)));
  return {
    title,
    color: counts.flagged > 0 ? COLORS.flagged : COLORS.clean,
    description,
    fields: [...keyNumbers(input, counts), ...(precisionField(input, detectors) ?? []), ...notesField(input)],
    footer: footer(input),
  };
}
