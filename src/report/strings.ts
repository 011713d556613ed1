/** Report languages: English and Simplified Chinese (the executive summaries and their charts). */
export type ReportLang = 'en' | 'zh';

/** The report language for a Discord locale (zh-CN / zh-TW → Chinese, everything else English). */
export function reportLangFor(locale: string | null | undefined): ReportLang {
  return locale?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

type Fill = Record<string, string | number>;
const fill = (s: string, v: Fill): string =>
  s.replace(/\{(\w+)\}/g, (_, k: string) => String(v[k] ?? `{${k}}`));

const EN = {
  'chart.clip.title': 'CLIP similarity of each sample image with its own prompt',
  'chart.clip.x': 'cosine similarity (CLIP ViT-B/32)',
  'chart.clip.y': 'images',
  'chart.clip.low': 'low match (below its calibrated null)',
  'chart.clip.ok': 'matches its prompt',
  'chart.clip.undecided': 'no decision (too few prompts)',
  'chart.clip.cut': 'calibrated cut (median null quantile) {cut}',
  'chart.clip.rawCut': 'raw threshold (uncalibrated) {cut}',
  'chart.rates.title': 'Low-match rate per model, 95 % Wilson interval',
  'chart.rates.x': 'share of sample images that do not match their prompt',
  'chart.rates.ci': '95 % interval',
  'chart.rates.flagged': 'model flagged by CLIP',
  'chart.rates.unflagged': 'model not flagged',
  'chart.text.title': 'User reports of tag errors, by language and source',
  'chart.text.x': 'language of the report',
  'chart.text.y': 'reports (evidence sentences)',
  'chart.training.title': 'Training-tag conflicts by kind',
  'chart.training.x': 'models with this conflict',
  'chart.hue.title': 'Hue histogram: flagged models vs reference',
  'chart.hue.x': 'hue (degrees, 10° bins)',
  'chart.hue.y': 'share of saturation-weighted pixels',
  'chart.hue.flagged': 'flagged models (pooled)',
  'chart.hue.unflagged': 'other audited models (pooled)',
  'chart.hue.ref': 'reference',
  'chart.sv.title': 'Saturation and value vs reference, per model (95 % bootstrap CI)',
  'chart.sv.x': 'difference of means vs reference (0–1 scale)',
  'chart.sv.sat': 'saturation',
  'chart.sv.val': 'value (brightness)',
  'chart.faces.title': 'Face box aspect ratio (width / height)',
  'chart.faces.x': 'aspect ratio',
  'chart.faces.y': 'share of faces',
  'chart.shots.title': 'Shot types: audited models vs reference',
  'chart.shots.y': 'share of images',
  'chart.dist.title': 'Distance to the reference per model (95 % CI)',
  'chart.dist.x': 'KID ×1000 and CMMD (×1000, CLIP)',
  'chart.dist.kid': 'KID ×1000',
  'chart.dist.cmmd': 'CMMD',
  'shot.closeup': 'close-up',
  'shot.half': 'half body',
  'shot.full': 'full body',
  'shot.none': 'no person',
  'src.description': 'description',
  'src.changelog': 'changelog',
  'src.comment': 'comment',
  'src.review': 'review',
  'pdf.title': 'loralens — Executive summary',
  'pdf.subtitle': 'Audit of {n} Civitai model(s) · {period} · generated {date}',
  'pdf.background': 'Background',
  'pdf.backgroundText':
    'LoRA models trained on mis-tagged images learn the wrong concepts and pass their biases on to every image they make. loralens reads what is public about each model — its page, comments and reviews, the training tags in its file header and its sample images — and looks for evidence of tag errors and the bias they cause.',
  'pdf.audited': 'What was audited',
  'pdf.auditedText':
    '{n} model(s) ({selection}); analyses that ran: {ran}. Not run or not measured: {notRun}.',
  'pdf.findings': 'Key findings',
  'pdf.charts': 'Charts',
  'pdf.recommendations': 'Recommendations',
  'pdf.footer':
    'Details, evidence and method: Detailed_Report.md, report.html, metrics.csv, audit.json (schema {schema}) · {tool}',
  'find.flagged':
    '{flagged} of {n} models ({pct}, 95 % CI {low}–{high}) show possible tag errors; {clean} clean, {unknown} could not be measured.',
  'find.text':
    '{models} model(s) have user reports of tag errors: {reports} report(s) in {langs} language(s), most in {topLang}.',
  'find.textNone': 'No user report of a tag error was found in {measured} model(s) whose texts were read.',
  'find.training':
    '{models} model(s) have training-tag conflicts; the most common is "{rule}" ({count} model(s)).',
  'find.trainingNone':
    'No training-tag conflict in the {measured} model(s) with training tags in their file header.',
  'find.clip':
    '{low} of {scored} sample images do not match their own prompt (calibrated, α = {alpha}); {models} model(s) flagged by CLIP.',
  'find.bias': 'Bias: {sentence}',
  'find.notRun': 'Not measured in this audit: {list}.',
  'rec.fixCaptions':
    'Creators of flagged models: re-check the captions named in Detailed_Report.md and retrain.',
  'rec.trigger': 'State the trigger word exactly as it appears in the training captions.',
  'rec.clip': 'Replace sample images whose prompt does not describe them (error_samples.zip).',
  'rec.runMissing': 'Run the missing analyses ({list}) before drawing conclusions from this summary.',
  'rec.readEvidence': 'Read the evidence quotes before acting: each finding is a lead, not a proof.',
  'status.notRun': 'not run',
  'status.none': 'none',
} as const;

export type ReportKey = keyof typeof EN;

const ZH: Record<ReportKey, string> = {
  'chart.clip.title': '每张示例图与其提示词的 CLIP 相似度',
  'chart.clip.x': '余弦相似度（CLIP ViT-B/32）',
  'chart.clip.y': '图片数',
  'chart.clip.low': '低匹配（低于校准零分布）',
  'chart.clip.ok': '与提示词匹配',
  'chart.clip.undecided': '无法判定（提示词过少）',
  'chart.clip.cut': '校准阈值（零分布分位数中位数）{cut}',
  'chart.clip.rawCut': '原始阈值（未校准）{cut}',
  'chart.rates.title': '各模型低匹配率（95% Wilson 区间）',
  'chart.rates.x': '与提示词不符的示例图比例',
  'chart.rates.ci': '95% 区间',
  'chart.rates.flagged': '被 CLIP 标记的模型',
  'chart.rates.unflagged': '未标记的模型',
  'chart.text.title': '用户反馈的标签错误（按语言与来源）',
  'chart.text.x': '反馈语言',
  'chart.text.y': '反馈条数（证据句）',
  'chart.training.title': '训练标签冲突（按类型）',
  'chart.training.x': '存在该冲突的模型数',
  'chart.hue.title': '色相直方图：被标记模型与参考集',
  'chart.hue.x': '色相（度，每 10° 一组）',
  'chart.hue.y': '饱和度加权像素占比',
  'chart.hue.flagged': '被标记模型（合并）',
  'chart.hue.unflagged': '其他模型（合并）',
  'chart.hue.ref': '参考集',
  'chart.sv.title': '各模型饱和度与明度相对参考集的差异（95% 自助法区间）',
  'chart.sv.x': '均值差（0–1）',
  'chart.sv.sat': '饱和度',
  'chart.sv.val': '明度',
  'chart.faces.title': '人脸框宽高比',
  'chart.faces.x': '宽高比',
  'chart.faces.y': '人脸占比',
  'chart.shots.title': '景别分布：被审计模型与参考集',
  'chart.shots.y': '图片占比',
  'chart.dist.title': '各模型与参考集的距离（95% 区间）',
  'chart.dist.x': 'KID ×1000 与 CMMD（×1000，CLIP）',
  'chart.dist.kid': 'KID ×1000',
  'chart.dist.cmmd': 'CMMD',
  'shot.closeup': '特写',
  'shot.half': '半身',
  'shot.full': '全身',
  'shot.none': '无人物',
  'src.description': '简介',
  'src.changelog': '更新日志',
  'src.comment': '评论',
  'src.review': '评价',
  'pdf.title': 'loralens 审计执行摘要',
  'pdf.subtitle': '审计 {n} 个 Civitai 模型 · {period} · 生成于 {date}',
  'pdf.background': '背景',
  'pdf.backgroundText':
    '用标注错误的图片训练的 LoRA 模型会学到错误的概念，并把偏差带进它生成的每一张图。loralens 读取每个模型的公开信息——模型页面、评论与评价、文件头中的训练标签以及示例图——寻找标签错误及其造成偏差的证据。',
  'pdf.audited': '审计范围',
  'pdf.auditedText': '共 {n} 个模型（{selection}）；已运行的分析：{ran}。未运行或无法测量：{notRun}。',
  'pdf.findings': '主要发现',
  'pdf.charts': '图表',
  'pdf.recommendations': '建议',
  'pdf.footer':
    '方法、证据与细节见 Detailed_Report.md、report.html、metrics.csv、audit.json（架构版本 {schema}）· {tool}',
  'find.flagged':
    '{n} 个模型中有 {flagged} 个（{pct}，95% 置信区间 {low}–{high}）可能存在标签错误；{clean} 个未发现问题，{unknown} 个无法测量。',
  'find.text':
    '{models} 个模型有用户反馈标签错误：共 {reports} 条，涉及 {langs} 种语言，最多的是 {topLang}。',
  'find.textNone': '在已读取文本的 {measured} 个模型中未发现用户反馈的标签错误。',
  'find.training': '{models} 个模型存在训练标签冲突，最常见的是“{rule}”（{count} 个模型）。',
  'find.trainingNone': '在文件头含训练标签的 {measured} 个模型中未发现训练标签冲突。',
  'find.clip':
    '{scored} 张示例图中有 {low} 张与其提示词不符（已校准，α = {alpha}）；CLIP 标记了 {models} 个模型。',
  'find.bias': '偏差分析：{sentence}',
  'find.notRun': '本次审计未测量：{list}。',
  'rec.fixCaptions': '被标记模型的作者：请核对 Detailed_Report.md 中列出的标注并重新训练。',
  'rec.trigger': '触发词应与训练标注中的写法完全一致。',
  'rec.clip': '替换与提示词不符的示例图（见 error_samples.zip）。',
  'rec.runMissing': '在据此摘要下结论之前，请先运行缺失的分析（{list}）。',
  'rec.readEvidence': '采取行动前请阅读证据原文：每条发现都是线索，而非定论。',
  'status.notRun': '未运行',
  'status.none': '无',
};

/** A report string in `lang`, with `{name}` placeholders filled. */
export function rt(lang: ReportLang, key: ReportKey, values: Fill = {}): string {
  return fill(lang === 'zh' ? ZH[key] : EN[key], values);
}

/** Human names of the analyses (report tables and summaries). */
export const ANALYSIS_NAMES: Record<ReportLang, Record<string, string>> = {
  en: {
    text: 'text (tag-error reports in page texts, comments, reviews)',
    training: 'training (training tags in the file header vs trigger words)',
    clip: 'clip (CLIP match of each sample image with its own prompt)',
    bias: 'bias (colour, faces, composition, distances vs reference)',
  },
  zh: {
    text: '文本（页面、评论与评价中的标签错误反馈）',
    training: '训练标签（文件头训练标签与触发词）',
    clip: 'CLIP（示例图与其提示词的匹配）',
    bias: '偏差（颜色、人脸、构图、与参考集的距离）',
  },
};

/** Short names of training rules for charts and tables. */
export function ruleLabel(rule: string): string {
  return rule.replace(/^training\./, '').replace(/\./g, ' · ');
}
