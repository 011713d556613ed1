import type { DocumentModel } from '../analysis/audit/document.ts';
import type { Chart, ChartName } from './charts.ts';
import { ANALYSIS_NAMES, ruleLabel } from './strings.ts';
import { type AnalysisStatus, highestLevel, type ReportView, reproduceCommand } from './view.ts';

/**
 * The detailed report as a list of blocks (headings, paragraphs, tables, charts); the Markdown and
 * HTML renderers turn the same blocks into Detailed_Report.md and report.html. All text in blocks
 * is plain: the renderers escape it.
 */
export type Block =
  | { kind: 'h'; level: 1 | 2 | 3; text: string }
  | { kind: 'p'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; head: string[]; rows: string[][] }
  | { kind: 'image'; chart: ChartName; file: string; alt: string }
  | { kind: 'quote'; text: string }
  | { kind: 'code'; text: string };

const pct = (x: number | null | undefined): string => (x == null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
const n3 = (x: number | null | undefined): string => (x == null ? 'n/a' : x.toFixed(3));
const pval = (x: number | null | undefined): string =>
  x == null ? 'n/a' : x < 0.001 ? '< 0.001' : x.toFixed(3);

function statusLine(s: AnalysisStatus): string {
  if (!s.ran) return 'not run';
  if (s.measured === 0) return 'ran, measured nothing';
  return s.notMeasured > 0 ? 'ran, partly measured' : 'ran';
}

/** One sentence per analysis that did not run or measured nothing for some models. */
export function notRunSentences(view: ReportView): string[] {
  return view.analyses.flatMap((s) => {
    if (!s.ran) return [`${s.name}: not run in this audit.`];
    if (s.notMeasured === 0) return [];
    const why = s.reasons.length > 0 ? ` (${s.reasons.join('; ')})` : '';
    return [`${s.name}: not measured for ${s.notMeasured} of ${view.n} model(s)${why}.`];
  });
}

function selectionText(view: ReportView): string {
  const sel = view.doc.selection;
  if (sel.kind === 'top')
    return `top ${sel.n} ${sel.types.join(' + ')} models by "${sel.sort}" (${sel.period}), published ${sel.from} to ${sel.to}${sel.nsfw ? ', NSFW models included' : ''}${sel.baseModels.length ? `, base models ${sel.baseModels.join(', ')}` : ''}`;
  if (sel.kind === 'model') return `one model: ${sel.ref}`;
  if (sel.kind === 'hash') return `the model version with file hash ${sel.hash}`;
  return `a local file: ${sel.path}`;
}

function chartBlock(charts: ReadonlyMap<ChartName, Chart>, name: ChartName): Block[] {
  const chart = charts.get(name);
  return chart ? [{ kind: 'image', chart: name, file: chart.file, alt: chart.title }] : [];
}

function methodBlocks(view: ReportView): Block[] {
  const { doc } = view;
  const o = doc.options;
  const versions = doc.models.flatMap((m) =>
    m.versions.map((v) => [String(m.modelId), m.name, v.name, v.baseModel ?? 'n/a', v.sha256 ?? 'n/a']),
  );
  const clip = view.clip;
  return [
    { kind: 'h', level: 2, text: 'Method' },
    {
      kind: 'list',
      items: [
        `What was crawled: ${selectionText(view)}; ${view.n} model(s).`,
        `When: ${doc.generatedAt} (UTC), by ${doc.tool.name} ${doc.tool.version}, audit.json schema ${doc.schemaVersion}.`,
        `Options: comments ${o.comments ? 'read' : 'not read'}; up to ${o.imagesPerVersion} sample images per version; images up to Civitai level ${highestLevel(o.maxBrowsingLevel)}; bias reference ${o.reference.kind}; seed ${o.seed}.`,
        clip
          ? clip.mode === 'calibrated'
            ? `CLIP threshold (calibrated): an image is a low match when its own-prompt cosine is not above the (1 − α) quantile of its cosines with ${clip.nullK} shuffled prompts of other images (α = ${clip.alpha}, seed ${clip.seed}); a model is flagged when the Wilson lower bound of its low-match rate reaches 25 %.`
            : `CLIP threshold (uncalibrated, comparison only): raw cosine below ${o.clipThreshold ?? 'n/a'}.`
          : 'CLIP threshold: CLIP did not run or measured nothing (see Analyses).',
        'Text: a multilingual detector scores each sentence of the description, changelogs, comments and reviews for reports of tag errors; a model is flagged when the combined score passes its threshold.',
        'Training tags: the kohya ss_tag_frequency header is compared with the trigger words on the model page (contradictory tags, trigger drift, spelling variants).',
      ],
    },
    ...(versions.length > 0
      ? [
          { kind: 'h', level: 3, text: 'Model versions and file hashes' } as Block,
          {
            kind: 'table',
            head: ['model id', 'model', 'version', 'base model', 'SHA256 (primary file)'],
            rows: versions.slice(0, 400),
          } as Block,
          ...(versions.length > 400
            ? [
                {
                  kind: 'p',
                  text: `${versions.length - 400} more versions are listed in audit.json.`,
                } as Block,
              ]
            : []),
        ]
      : []),
  ];
}

function analysesBlocks(view: ReportView): Block[] {
  return [
    { kind: 'h', level: 2, text: 'Analyses' },
    {
      kind: 'table',
      head: ['analysis', 'status', 'models measured', 'models flagged', 'not measured (why)'],
      rows: view.analyses.map((s) => [
        ANALYSIS_NAMES.en[s.name] ?? s.name,
        statusLine(s),
        String(s.measured),
        String(s.flagged),
        s.ran
          ? s.notMeasured > 0
            ? `${s.notMeasured}: ${s.reasons.join('; ')}`
            : '0'
          : 'not part of this audit',
      ]),
    },
    ...notRunSentences(view).map((t): Block => ({ kind: 'p', text: `Not measured — ${t}` })),
  ];
}

function resultsBlocks(view: ReportView, charts: ReadonlyMap<ChartName, Chart>): Block[] {
  const out: Block[] = [
    { kind: 'h', level: 2, text: 'Results' },
    { kind: 'h', level: 3, text: 'Overview' },
  ];
  const share = view.flaggedShare;
  out.push({
    kind: 'table',
    head: ['verdict', 'models', 'share'],
    rows: (['flagged', 'clean', 'unknown'] as const).map((v) => [
      v,
      String(view.counts[v]),
      view.n > 0 ? pct(view.counts[v] / view.n) : 'n/a',
    ]),
  });
  if (share)
    out.push({
      kind: 'p',
      text: `Flagged share ${pct(share.rate)} (95 % Wilson interval ${pct(share.low)} – ${pct(share.high)}, n = ${view.n}).`,
    });

  out.push({ kind: 'h', level: 3, text: 'Tag-error reports in texts' });
  if (!view.doc.analyses.includes('text')) out.push({ kind: 'p', text: 'The text analysis did not run.' });
  else if (view.text.reports === 0)
    out.push({ kind: 'p', text: 'No report of a tag error was found in the texts read.' });
  else {
    out.push(...chartBlock(charts, 'text-reports'));
    out.push({
      kind: 'table',
      head: ['language', 'description', 'changelog', 'comment', 'review', 'total'],
      rows: [...view.text.byLang].map(([lang, kinds]) => {
        const c = ['description', 'changelog', 'comment', 'review'].map((k) => kinds.get(k) ?? 0);
        return [lang, ...c.map(String), String(c.reduce((a, b) => a + b, 0))];
      }),
    });
  }

  out.push({ kind: 'h', level: 3, text: 'Training-tag conflicts' });
  if (!view.doc.analyses.includes('training'))
    out.push({ kind: 'p', text: 'The training-tag analysis did not run.' });
  else if (view.training.byRule.size === 0)
    out.push({ kind: 'p', text: 'No training-tag conflict was found in the models with training tags.' });
  else {
    out.push(...chartBlock(charts, 'training-conflicts'));
    out.push({
      kind: 'table',
      head: ['conflict', 'models', 'findings'],
      rows: [...view.training.byRule].map(([rule, v]) => [
        ruleLabel(rule),
        String(v.models),
        String(v.findings),
      ]),
    });
  }

  out.push({ kind: 'h', level: 3, text: 'CLIP image–prompt match' });
  const clip = view.clip;
  if (!clip || clip.imagesScored === 0) {
    const s = view.analyses.find((a) => a.name === 'clip');
    out.push({
      kind: 'p',
      text: s?.ran
        ? `CLIP measured nothing: ${s.reasons.join('; ') || 'no image could be scored'}.`
        : 'CLIP did not run.',
    });
  } else {
    out.push({
      kind: 'p',
      text: `${clip.imagesScored} image(s) scored, ${clip.imagesLow} low match(es); cut ${n3(clip.cut)} (${clip.mode}).`,
    });
    out.push(...chartBlock(charts, 'clip-similarity'), ...chartBlock(charts, 'clip-low-match-rates'));
    out.push({
      kind: 'table',
      head: ['model', 'images scored', 'low-match rate', '95 % CI', 'flagged'],
      rows: clip.models
        .slice(0, 50)
        .map((r) => [
          `${r.name} (${r.modelId})`,
          String(r.scored),
          pct(r.rate),
          `${pct(r.low)} – ${pct(r.high)}`,
          r.flagged ? 'yes' : 'no',
        ]),
    });
  }

  out.push({ kind: 'h', level: 3, text: 'Bias: colour, faces, composition, distances' });
  const bias = view.bias;
  if (!bias) {
    out.push({
      kind: 'p',
      text: view.doc.analyses.includes('bias')
        ? 'The bias analysis ran but recorded no evidence.'
        : 'The bias analysis did not run in this audit: no colour, face, composition or distance numbers.',
    });
  } else {
    if (bias.summary)
      out.push({
        kind: 'p',
        text: `Reference: ${bias.summary.reference.label} (${bias.summary.reference.nImages} images). ${bias.summary.sentence}`,
      });
    for (const name of [
      'bias-hue',
      'bias-saturation-value',
      'bias-face-aspect',
      'bias-shot-types',
      'bias-distances',
    ] as const)
      out.push(...chartBlock(charts, name));
    const blocks = ['colour', 'faces', 'composition', 'distance'] as const;
    out.push({
      kind: 'table',
      head: ['model', 'images', ...blocks],
      rows: bias.models.slice(0, 50).map(({ model, evidence }) => [
        `${model.name} (${model.modelId})`,
        String(evidence.nImages),
        ...blocks.map((b) => {
          const e = evidence[b];
          return e.status === 'ok' ? 'measured' : `${e.status}: ${e.reason}`;
        }),
      ]),
    });
  }
  return out;
}

function flaggedBlocks(view: ReportView): Block[] {
  const out: Block[] = [{ kind: 'h', level: 2, text: 'Flagged models' }];
  if (view.flaggedModels.length === 0) {
    out.push({ kind: 'p', text: 'No model was flagged.' });
    return out;
  }
  const shown = view.flaggedModels.slice(0, 60);
  for (const m of shown) out.push(...modelBlocks(m));
  if (view.flaggedModels.length > shown.length)
    out.push({
      kind: 'p',
      text: `${view.flaggedModels.length - shown.length} more flagged model(s) are in audit.json.`,
    });
  return out;
}

function modelBlocks(m: DocumentModel): Block[] {
  const out: Block[] = [
    { kind: 'h', level: 3, text: `${m.name} (${m.modelId})` },
    { kind: 'p', text: `${m.url} — ${m.verdictLine}` },
  ];
  const findings = m.findings.slice(0, 12);
  if (findings.length > 0)
    out.push({
      kind: 'table',
      head: ['severity', 'analysis', 'finding', 'source'],
      rows: findings.map((f) => [f.severity, f.detector, f.title, f.source ?? '']),
    });
  for (const f of findings.filter((x) => x.detector === 'text').slice(0, 3))
    out.push({ kind: 'quote', text: f.evidence });
  const conflicts = findings.filter((f) => f.detector === 'training');
  if (conflicts.length > 0)
    out.push({ kind: 'list', items: conflicts.map((f) => `Training tags — ${f.title}: ${f.evidence}`) });
  if (m.findings.length > findings.length)
    out.push({ kind: 'p', text: `${m.findings.length - findings.length} more finding(s) in audit.json.` });
  return out;
}

function statisticsBlocks(view: ReportView): Block[] {
  const out: Block[] = [{ kind: 'h', level: 2, text: 'Statistics' }];
  const items: string[] = [];
  if (view.flaggedShare)
    items.push(
      `Flagged share: ${view.counts.flagged}/${view.n} = ${pct(view.flaggedShare.rate)}, 95 % Wilson interval ${pct(view.flaggedShare.low)} – ${pct(view.flaggedShare.high)}.`,
    );
  if (view.clip && view.clip.models.length > 0)
    items.push(
      `CLIP low-match rates: per model with 95 % Wilson intervals (table above); each image's p-value is empirical against ${view.clip.nullK} shuffled prompts.`,
    );
  out.push({
    kind: 'list',
    items: items.length > 0 ? items : ['No interval could be computed (no model measured).'],
  });
  const sig = view.bias?.summary?.significance ?? [];
  if (sig.length > 0) {
    out.push({
      kind: 'p',
      text: `Bias metrics, flagged vs unflagged models (Mann–Whitney U, Benjamini–Hochberg q, α = ${view.bias?.summary?.alpha}):`,
    });
    out.push({
      kind: 'table',
      head: [
        'metric',
        'n flagged',
        'n unflagged',
        'median flagged',
        'median unflagged',
        'U',
        'p',
        'q',
        "Cliff's δ",
        'significant',
      ],
      rows: sig.map((r) => [
        r.metric,
        String(r.nFlagged),
        String(r.nUnflagged),
        n3(r.medianFlagged),
        n3(r.medianUnflagged),
        r.u == null ? 'n/a' : String(r.u),
        pval(r.p),
        pval(r.q),
        n3(r.cliffsDelta),
        r.significant ? 'yes' : r.note ? `no (${r.note})` : 'no',
      ]),
    });
  } else
    out.push({
      kind: 'p',
      text: 'No significance test of bias metrics: the bias analysis did not run or had too few models.',
    });
  return out;
}

function limitationBlocks(view: ReportView): Block[] {
  const images = view.doc.models.map((m) => m.imageCount).sort((a, b) => a - b);
  const median = images.length > 0 ? images[Math.floor(images.length / 2)] : 0;
  const ref = view.bias?.summary?.reference.label ?? view.doc.options.reference.kind;
  return [
    { kind: 'h', level: 2, text: 'Limitations' },
    {
      kind: 'list',
      items: [
        `N per model is small: median ${median} sample image(s) per model; intervals are wide and a clean verdict is not proof of clean captions.`,
        `Reference for the bias metrics: ${ref}. A different reference changes every bias number.`,
        'Text findings are user reports, not verified facts; training-tag findings read only the header of the file Civitai lists.',
        ...notRunSentences(view).map((s) => `Skipped: ${s}`),
        ...view.doc.notes.map((n) => `Note: ${n}`),
      ],
    },
  ];
}

/** Every block of Detailed_Report.md / report.html. */
export function detailedBlocks(view: ReportView, charts: readonly Chart[]): Block[] {
  const byName = new Map(charts.map((c) => [c.name, c]));
  return [
    { kind: 'h', level: 1, text: 'loralens audit report' },
    {
      kind: 'p',
      text: `${view.n} model(s) audited on ${view.doc.generatedAt.slice(0, 10)}: ${view.counts.flagged} flagged, ${view.counts.clean} clean, ${view.counts.unknown} unknown.`,
    },
    ...methodBlocks(view),
    ...analysesBlocks(view),
    ...resultsBlocks(view, byName),
    ...flaggedBlocks(view),
    ...statisticsBlocks(view),
    ...limitationBlocks(view),
    { kind: 'h', level: 2, text: 'Reproduce' },
    { kind: 'p', text: 'Run this command (same options and seed; Civitai data may have changed since):' },
    { kind: 'code', text: reproduceCommand(view.doc) },
  ];
}
