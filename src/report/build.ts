import type { AuditDocument } from '../analysis/audit/document.ts';
import { detailedBlocks } from './blocks.ts';
import {
  CHART_NAMES,
  type Chart,
  type ChartName,
  chartConfigs,
  renderCharts,
  warmUpCharts,
} from './charts.ts';
import { renderHtml } from './html.ts';
import { renderMarkdown } from './markdown.ts';
import { type CjkFont, cjkFontAvailable, DEBIAN_NOTO_CJK, renderSummaryPdf, summaryText } from './pdf.ts';
import type { ReportLang } from './strings.ts';
import { reportView } from './view.ts';

/** File names users' scripts depend on. */
export const REPORT_FILES = {
  markdown: 'Detailed_Report.md',
  html: 'report.html',
  pdf: { zh: 'Executive_Summary_CN.pdf', en: 'Executive_Summary_EN.pdf' },
  zip: 'error_samples.zip',
} as const;

export interface ReportFile {
  name: string;
  contentType: string;
  data: Buffer;
}

export interface BuildReportOptions {
  /** Which documents to make (default: all). */
  markdown?: boolean;
  html?: boolean;
  pdf?: readonly ReportLang[];
  /** Which charts to write under charts/ (default: every chart the data supports). */
  charts?: readonly ChartName[];
  /** Draw at most this many charts (the first ones the data supports); default all. */
  maxCharts?: number;
  font?: CjkFont;
}

export interface BuiltReport {
  files: ReportFile[];
  charts: Chart[];
  /** The chart a summary shows first (Discord embed image), when any chart could be drawn. */
  mainChart: Chart | null;
  /** Sentences about documents that could not be made (e.g. no CJK font for the Chinese PDF). */
  notes: string[];
}

/**
 * Build the report files of an audit document: charts/*.png, Detailed_Report.md, report.html and
 * the one-page executive summaries. Pure apart from reading the font files; the ZIP is written
 * separately (writeErrorSamplesZip) because it needs the images.
 */
export async function buildReport(
  doc: AuditDocument,
  options: BuildReportOptions = {},
): Promise<BuiltReport> {
  const view = reportView(doc);
  const wanted = chartConfigs(view, 'en', options.charts ?? CHART_NAMES)
    .map((c) => c.name)
    .slice(0, options.maxCharts ?? CHART_NAMES.length);
  const charts = await renderCharts(view, 'en', wanted);
  const files: ReportFile[] = charts.map((c) => ({ name: c.file, contentType: 'image/png', data: c.png }));
  const notes: string[] = [];
  const blocks = detailedBlocks(view, charts);
  if (options.markdown ?? true)
    files.push({
      name: REPORT_FILES.markdown,
      contentType: 'text/markdown; charset=utf-8',
      data: Buffer.from(renderMarkdown(blocks), 'utf8'),
    });
  if (options.html ?? true)
    files.push({
      name: REPORT_FILES.html,
      contentType: 'text/html; charset=utf-8',
      data: Buffer.from(renderHtml(blocks, new Map(charts.map((c) => [c.file, c.png]))), 'utf8'),
    });
  const font = options.font ?? DEBIAN_NOTO_CJK;
  for (const lang of options.pdf ?? (['zh', 'en'] as const)) {
    if (lang === 'zh' && !(await cjkFontAvailable(font))) {
      notes.push(
        `${REPORT_FILES.pdf.zh} was not written: the CJK font ${font.regular.path} is missing (Debian: apt-get install fonts-noto-cjk).`,
      );
      continue;
    }
    const pdfCharts =
      lang === 'en'
        ? charts.slice(0, 2)
        : await renderCharts(
            view,
            lang,
            charts.slice(0, 2).map((c) => c.name),
          );
    files.push({
      name: REPORT_FILES.pdf[lang],
      contentType: 'application/pdf',
      data: await renderSummaryPdf(summaryText(view, lang), pdfCharts, {
        lang,
        font,
        date: new Date(doc.generatedAt),
      }),
    });
  }
  return { files, charts, mainChart: charts[0] ?? null, notes };
}

/**
 * Do the one-time work of a first report (canvas fonts, reading and parsing the CJK font) now, so a
 * long-running process (the bot) does not block on it while users wait. Never throws: a report that
 * later cannot be built says so itself.
 */
export async function warmUpReports(font: CjkFont = DEBIAN_NOTO_CJK): Promise<void> {
  try {
    const png = await warmUpCharts();
    const chart = { name: 'text-reports' as const, file: '', title: '', png };
    const text = {
      title: 'loralens 预热',
      subtitle: '',
      background: '',
      audited: '',
      findings: [],
      recommendations: [],
      footer: '',
    };
    await renderSummaryPdf(text, [chart], {
      lang: (await cjkFontAvailable(font)) ? 'zh' : 'en',
      font,
      date: new Date(0),
    });
  } catch {
    // Nothing to warm: the first report pays the cost and reports its own failure.
  }
}
