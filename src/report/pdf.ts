import { readFile } from 'node:fs/promises';
import { createCanvas, loadImage } from 'canvas';
import PDFDocument from 'pdfkit';
import type { Chart } from './charts.ts';
import { ANALYSIS_NAMES, type ReportLang, rt, ruleLabel } from './strings.ts';
import { type ReportView, reproduceCommand } from './view.ts';

/**
 * The one-page A4 executive summaries (Executive_Summary_CN.pdf / _EN.pdf), drawn with pdfkit.
 * Text is set in Noto Sans CJK (Debian fonts-noto-cjk), embedded as a subset of the glyphs used;
 * every text box has a fixed height, so the page never overflows onto a second one.
 */

/** Where the CJK font comes from: Debian's fonts-noto-cjk (a TrueType collection; one face picked by name). */
export interface CjkFont {
  regular: { path: string; face: string };
  bold: { path: string; face: string };
}

export const DEBIAN_NOTO_CJK: CjkFont = {
  regular: { path: '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', face: 'NotoSansCJKsc-Regular' },
  bold: { path: '/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc', face: 'NotoSansCJKsc-Bold' },
};

const fontCache = new Map<string, Promise<Buffer | null>>();

/** The font file's bytes, read once per process (asynchronously: 19 MB must not block the loop). */
function loadFont(path: string): Promise<Buffer | null> {
  let bytes = fontCache.get(path);
  if (!bytes) {
    bytes = readFile(path).catch(() => null);
    fontCache.set(path, bytes);
  }
  return bytes;
}

/** Whether the CJK font files can be read (the Chinese summary needs them). */
export async function cjkFontAvailable(font: CjkFont = DEBIAN_NOTO_CJK): Promise<boolean> {
  return (await loadFont(font.regular.path)) !== null && (await loadFont(font.bold.path)) !== null;
}

export interface SummaryText {
  title: string;
  subtitle: string;
  background: string;
  audited: string;
  findings: string[];
  recommendations: string[];
  footer: string;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function selectionLabel(view: ReportView, lang: ReportLang): string {
  const sel = view.doc.selection;
  if (sel.kind === 'top')
    return lang === 'zh'
      ? `前 ${sel.n} 个 ${sel.types.join(' + ')} 模型，按 ${sel.sort}（${sel.period}），发布于 ${sel.from} 至 ${sel.to}`
      : `top ${sel.n} ${sel.types.join(' + ')} by ${sel.sort} (${sel.period}), published ${sel.from} to ${sel.to}`;
  if (sel.kind === 'model') return lang === 'zh' ? `单个模型 ${sel.ref}` : `one model, ${sel.ref}`;
  if (sel.kind === 'hash') return lang === 'zh' ? `文件哈希 ${sel.hash}` : `file hash ${sel.hash}`;
  return lang === 'zh' ? '本地文件' : 'a local file';
}

/** The summary's sentences, all numbers taken from the view. */
export function summaryText(view: ReportView, lang: ReportLang): SummaryText {
  const date = view.doc.generatedAt.slice(0, 10);
  const status = (name: string) => view.analyses.find((a) => a.name === name);
  const ran = view.analyses.filter((a) => a.ran && a.measured > 0).map((a) => a.name);
  const missing = view.analyses.filter((a) => !a.ran || a.measured === 0).map((a) => a.name);
  const findings: string[] = [];
  if (view.flaggedShare)
    findings.push(
      rt(lang, 'find.flagged', {
        flagged: view.counts.flagged,
        n: view.n,
        pct: pct(view.flaggedShare.rate),
        low: pct(view.flaggedShare.low),
        high: pct(view.flaggedShare.high),
        clean: view.counts.clean,
        unknown: view.counts.unknown,
      }),
    );
  const text = status('text');
  if (text && text.measured > 0) {
    const langs = [...view.text.byLang]
      .map(([l, k]) => [l, [...k.values()].reduce((a, b) => a + b, 0)] as const)
      .sort((a, b) => b[1] - a[1]);
    findings.push(
      view.text.reports > 0
        ? rt(lang, 'find.text', {
            models: view.text.modelsWithReports,
            reports: view.text.reports,
            langs: langs.length,
            topLang: langs[0]?.[0] ?? '',
          })
        : rt(lang, 'find.textNone', { measured: text.measured }),
    );
  }
  const training = status('training');
  if (training && training.measured > 0) {
    const top = [...view.training.byRule].sort((a, b) => b[1].models - a[1].models)[0];
    findings.push(
      top
        ? rt(lang, 'find.training', {
            models: view.training.modelsWithConflicts,
            rule: ruleLabel(top[0]),
            count: top[1].models,
          })
        : rt(lang, 'find.trainingNone', { measured: training.measured }),
    );
  }
  if (view.clip && view.clip.imagesScored > 0)
    findings.push(
      rt(lang, 'find.clip', {
        low: view.clip.imagesLow,
        scored: view.clip.imagesScored,
        alpha: view.clip.alpha,
        models: view.clip.models.filter((m) => m.flagged).length,
      }),
    );
  const bias = view.bias?.summary;
  if (bias) {
    const sig = bias.significance.filter((r) => r.significant).length;
    findings.push(
      lang === 'en'
        ? rt(lang, 'find.bias', { sentence: bias.sentence })
        : rt(lang, 'find.bias', {
            sentence: `${bias.significance.length} 项指标中有 ${sig} 项在被标记与未标记模型之间差异显著（α = ${bias.alpha}）。`,
          }),
    );
  }
  if (missing.length > 0 && findings.length < 5)
    findings.push(rt(lang, 'find.notRun', { list: missing.join(', ') }));

  const recommendations: string[] = [];
  if (view.counts.flagged > 0) recommendations.push(rt(lang, 'rec.fixCaptions'));
  if ([...view.training.byRule.keys()].some((r) => r.startsWith('training.trigger')))
    recommendations.push(rt(lang, 'rec.trigger'));
  if (view.clip && view.clip.imagesLow > 0) recommendations.push(rt(lang, 'rec.clip'));
  if (missing.length > 0) recommendations.push(rt(lang, 'rec.runMissing', { list: missing.join(', ') }));
  recommendations.push(rt(lang, 'rec.readEvidence'));

  return {
    title: rt(lang, 'pdf.title'),
    subtitle: rt(lang, 'pdf.subtitle', { n: view.n, period: view.period, date }),
    background: rt(lang, 'pdf.backgroundText'),
    audited: rt(lang, 'pdf.auditedText', {
      n: view.n,
      selection: selectionLabel(view, lang),
      ran:
        ran.map((a) => ANALYSIS_NAMES[lang][a] ?? a).join(lang === 'zh' ? '；' : '; ') ||
        rt(lang, 'status.none'),
      notRun: missing.join(', ') || rt(lang, 'status.none'),
    }),
    findings: findings.slice(0, 5),
    recommendations: recommendations.slice(0, 4),
    footer: `${rt(lang, 'pdf.footer', { schema: view.doc.schemaVersion, tool: `${view.doc.tool.name} ${view.doc.tool.version}` })}\n${reproduceCommand(view.doc)}`,
  };
}

/** PNG → JPEG (white background): pdfkit embeds JPEG as is, while a PNG is decoded and re-compressed. */
async function toJpeg(png: Buffer): Promise<Buffer> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'white';
  ctx.fillRect(0, 0, image.width, image.height);
  ctx.drawImage(image, 0, 0);
  return canvas.toBuffer('image/jpeg', { quality: 0.9 });
}

const A4 = { width: 595.28, height: 841.89 };
const M = 40;
const W = A4.width - 2 * M;

/** Render the one-page summary; `charts` are the (at most two) charts drawn on it. */
export async function renderSummaryPdf(
  text: SummaryText,
  charts: readonly Chart[],
  options: { lang: ReportLang; font?: CjkFont; date: Date },
): Promise<Buffer> {
  const font = options.font ?? DEBIAN_NOTO_CJK;
  const doc = new PDFDocument({
    size: 'A4',
    margins: { top: M, bottom: 10, left: M, right: M },
    autoFirstPage: true,
    info: { Title: text.title, Author: 'loralens', CreationDate: options.date, ModDate: options.date },
    lang: options.lang === 'zh' ? 'zh-CN' : 'en',
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });
  const images = await Promise.all(charts.slice(0, 2).map((c) => toJpeg(c.png)));
  const regular = await loadFont(font.regular.path);
  const bold = await loadFont(font.bold.path);
  if (regular && bold) {
    doc.registerFont('body', regular, font.regular.face);
    doc.registerFont('bold', bold, font.bold.face);
  } else {
    doc.registerFont('body', 'Helvetica');
    doc.registerFont('bold', 'Helvetica-Bold');
  }
  const ink = '#1b2631';
  let y = M;
  const box = (
    s: string,
    size: number,
    face: 'body' | 'bold',
    maxLines: number,
    colour = ink,
    x = M,
    width = W,
  ): void => {
    doc.font(face).fontSize(size).fillColor(colour);
    const lineHeight = doc.currentLineHeight(true) + 1;
    const height = Math.min(doc.heightOfString(s, { width, lineGap: 1 }), lineHeight * maxLines);
    doc.text(s, x, y, { width, height, ellipsis: true, lineGap: 1 });
    y += height + 4;
  };
  const heading = (s: string): void => {
    y += 4;
    box(s, 12, 'bold', 1, '#c0392b');
  };
  const bullets = (items: readonly string[], maxLines: number): void => {
    for (const item of items) {
      doc.font('body').fontSize(9.5).fillColor(ink).text('•', M, y, { width: 10, lineBreak: false });
      box(item, 9.5, 'body', maxLines, ink, M + 12, W - 12);
    }
  };

  box(text.title, 20, 'bold', 1);
  box(text.subtitle, 10, 'body', 1, '#566573');
  heading(rt(options.lang, 'pdf.background'));
  box(text.background, 9.5, 'body', 4);
  heading(rt(options.lang, 'pdf.audited'));
  box(text.audited, 9.5, 'body', 4);
  heading(rt(options.lang, 'pdf.findings'));
  bullets(text.findings, 3);
  if (charts.length > 0) {
    heading(rt(options.lang, 'pdf.charts'));
    const gap = 12;
    const cw = (W - gap) / 2;
    const ch = cw * (560 / 1000);
    images.forEach((jpeg, i) => {
      doc.image(jpeg, M + i * (cw + gap), y, { width: cw, height: ch });
    });
    y += ch + 6;
  }
  heading(rt(options.lang, 'pdf.recommendations'));
  bullets(text.recommendations, 2);
  // The footer sits at the bottom whatever the content above used.
  y = Math.max(y, A4.height - 58);
  box(text.footer, 7, 'body', 4, '#566573');
  doc.end();
  await done;
  return Buffer.concat(chunks);
}
