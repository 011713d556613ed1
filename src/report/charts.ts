import type { ChartConfiguration, ChartDataset } from 'chart.js';
import { ChartJSNodeCanvas } from 'chartjs-node-canvas';
import type { ReportLang } from './strings.ts';
import { rt, ruleLabel } from './strings.ts';
import type { ReportView } from './view.ts';

/**
 * The report's charts, drawn with Chart.js on node-canvas. One colour means one thing in every
 * chart: red = flagged, blue = not flagged / audited, grey = reference. Text is drawn with Noto
 * Sans CJK (Debian fonts-noto-cjk) so Chinese labels and model names render.
 */
export const COLOURS = {
  flagged: '#c0392b',
  unflagged: '#2e86c1',
  reference: '#7f8c8d',
  undecided: '#d5d8dc',
  cut: '#1b2631',
  source: { description: '#17a589', changelog: '#b9770e', comment: '#6c3483', review: '#d35400' } as Record<
    string,
    string
  >,
  saturation: '#5d6d7e',
  value: '#d4ac0d',
  kid: '#34495e',
  cmmd: '#27ae60',
} as const;

export const CHART_FONT = "'Noto Sans CJK SC', 'Noto Sans', 'DejaVu Sans', sans-serif";

/** Chart file names under charts/, in the order the reports show them. */
export const CHART_NAMES = [
  'clip-low-match-rates',
  'text-reports',
  'training-conflicts',
  'clip-similarity',
  'bias-distances',
  'bias-hue',
  'bias-saturation-value',
  'bias-face-aspect',
  'bias-shot-types',
] as const;
export type ChartName = (typeof CHART_NAMES)[number];

export interface Chart {
  name: ChartName;
  /** charts/<name>.png */
  file: string;
  title: string;
  png: Buffer;
}

const WIDTH = 1000;
const HEIGHT = 560;
let canvas: ChartJSNodeCanvas | undefined;

function renderer(): ChartJSNodeCanvas {
  canvas ??= new ChartJSNodeCanvas({
    width: WIDTH,
    height: HEIGHT,
    backgroundColour: 'white',
    chartCallback: (ChartJS) => {
      ChartJS.defaults.font.family = CHART_FONT;
      ChartJS.defaults.font.size = 17;
      ChartJS.defaults.color = '#1b2631';
      ChartJS.defaults.animation = false;
      ChartJS.defaults.responsive = false;
    },
  });
  return canvas;
}

const MAX_BARS = 25;

interface OptionExtras {
  stacked?: boolean;
  horizontal?: boolean;
  legend?: boolean;
  /** Value axis from 0 to 1 (shares). */
  unit?: boolean;
  /** Whole numbers on the value axis (counts). */
  integer?: boolean;
}

/** Title, axis titles and the few switches the report's charts use. */
function chartOptions(
  title: string,
  x: string,
  y: string,
  extras: OptionExtras = {},
): ChartConfiguration['options'] {
  const valueAxis = extras.horizontal ? 'x' : 'y';
  const axis = (name: 'x' | 'y', text: string) => ({
    title: { display: text.length > 0, text },
    ...(extras.stacked ? { stacked: true } : {}),
    ...(name === valueAxis && extras.unit ? { min: 0, max: 1 } : {}),
    ...(name === valueAxis && extras.integer ? { ticks: { precision: 0 } } : {}),
  });
  return {
    ...(extras.horizontal ? { indexAxis: 'y' as const } : {}),
    plugins: {
      title: { display: true, text: title, font: { size: 22, weight: 'bold' }, padding: { bottom: 12 } },
      legend: { display: extras.legend ?? true, position: 'bottom', labels: { boxWidth: 18 } },
    },
    scales: { x: axis('x', x), y: axis('y', y) },
  } as ChartConfiguration['options'];
}

const short = (s: string, n = 28): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const modelLabel = (name: string, id: number): string => `${short(name)} (${id})`;
const fmt = (x: number, d = 3): string => x.toFixed(d);

function histogram(values: readonly number[], lo: number, hi: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  const w = (hi - lo) / bins;
  for (const v of values) {
    const i = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / w)));
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}

function clipSimilarity(view: ReportView, lang: ReportLang): ChartConfiguration | null {
  const clip = view.clip;
  if (!clip || clip.imagesScored === 0) return null;
  const all = [...clip.cosines.low, ...clip.cosines.ok, ...clip.cosines.undecided];
  if (clip.cut !== null) all.push(clip.cut);
  const lo = Math.floor(Math.min(...all) * 50) / 50;
  const hi = Math.max(lo + 0.02, Math.ceil(Math.max(...all) * 50) / 50);
  const bins = Math.max(1, Math.min(40, Math.round((hi - lo) / 0.01)));
  const w = (hi - lo) / bins;
  const centre = (i: number): string => fmt(lo + (i + 0.5) * w, 3);
  const labels = Array.from({ length: bins }, (_, i) => centre(i));
  const series = (values: number[], label: string, colour: string): ChartDataset<'bar', number[]> => ({
    type: 'bar',
    label,
    data: histogram(values, lo, hi, bins),
    backgroundColor: colour,
    stack: 'images',
  });
  const datasets: ChartDataset[] = [
    series(clip.cosines.low, rt(lang, 'chart.clip.low'), COLOURS.flagged),
    series(clip.cosines.ok, rt(lang, 'chart.clip.ok'), COLOURS.unflagged),
  ];
  if (clip.cosines.undecided.length > 0)
    datasets.push(series(clip.cosines.undecided, rt(lang, 'chart.clip.undecided'), COLOURS.undecided));
  if (clip.cut !== null) {
    const bin = Math.min(bins - 1, Math.max(0, Math.floor((clip.cut - lo) / w)));
    const top = Math.max(...histogram(all, lo, hi, bins));
    const key = clip.mode === 'calibrated' ? 'chart.clip.cut' : 'chart.clip.rawCut';
    datasets.push({
      type: 'bar',
      label: rt(lang, key, { cut: fmt(clip.cut) }),
      data: labels.map((_, i) => (i === bin ? top : 0)),
      backgroundColor: COLOURS.cut,
      barPercentage: 0.12,
      categoryPercentage: 1,
      stack: 'cut',
    });
  }
  return {
    type: 'bar',
    data: { labels, datasets: datasets as ChartDataset<'bar'>[] },
    options: chartOptions(rt(lang, 'chart.clip.title'), rt(lang, 'chart.clip.x'), rt(lang, 'chart.clip.y'), {
      stacked: true,
      integer: true,
    }),
  };
}

function clipRates(view: ReportView, lang: ReportLang): ChartConfiguration | null {
  const rows = view.clip?.models.slice(0, MAX_BARS) ?? [];
  if (rows.length === 0) return null;
  return {
    type: 'bar',
    data: {
      labels: rows.map((r) => modelLabel(r.name, r.modelId)),
      datasets: [
        {
          type: 'bar',
          label: rt(lang, 'chart.rates.ci'),
          data: rows.map((r) => [r.low, r.high] as [number, number]),
          backgroundColor: rows.map((r) => (r.flagged ? COLOURS.flagged : COLOURS.unflagged)),
          barPercentage: 0.5,
        },
        {
          type: 'line',
          label: rt(lang, 'chart.rates.flagged'),
          data: rows.map((r) => r.rate),
          showLine: false,
          pointStyle: 'rectRot',
          pointRadius: 6,
          pointBackgroundColor: COLOURS.cut,
          borderColor: COLOURS.cut,
        },
      ] as ChartDataset<'bar'>[],
    },
    options: chartOptions(rt(lang, 'chart.rates.title'), rt(lang, 'chart.rates.x'), '', {
      horizontal: true,
      legend: false,
      unit: true,
    }),
  };
}

function textReports(view: ReportView, lang: ReportLang): ChartConfiguration | null {
  const langs = [...view.text.byLang.entries()]
    .map(([l, kinds]) => [l, [...kinds.values()].reduce((a, b) => a + b, 0)] as const)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([l]) => l);
  if (langs.length === 0) return null;
  const kinds = ['description', 'changelog', 'comment', 'review'];
  return {
    type: 'bar',
    data: {
      labels: langs,
      datasets: kinds.map((k) => ({
        label: rt(lang, `src.${k}` as 'src.comment'),
        data: langs.map((l) => view.text.byLang.get(l)?.get(k) ?? 0),
        backgroundColor: COLOURS.source[k] ?? COLOURS.reference,
      })),
    },
    options: chartOptions(rt(lang, 'chart.text.title'), rt(lang, 'chart.text.x'), rt(lang, 'chart.text.y'), {
      stacked: true,
      integer: true,
    }),
  };
}

function trainingConflicts(view: ReportView, lang: ReportLang): ChartConfiguration | null {
  const rules = [...view.training.byRule.entries()].sort(
    (a, b) => b[1].models - a[1].models || a[0].localeCompare(b[0]),
  );
  if (rules.length === 0) return null;
  return {
    type: 'bar',
    data: {
      labels: rules.map(([r]) => ruleLabel(r)),
      datasets: [
        {
          label: rt(lang, 'chart.training.x'),
          data: rules.map(([, v]) => v.models),
          backgroundColor: COLOURS.flagged,
        },
      ],
    },
    options: chartOptions(rt(lang, 'chart.training.title'), rt(lang, 'chart.training.x'), '', {
      horizontal: true,
      legend: false,
      integer: true,
    }),
  };
}

type BiasModels = NonNullable<ReportView['bias']>['models'];

function mean(arrays: number[][], length: number): number[] | null {
  if (arrays.length === 0) return null;
  return Array.from({ length }, (_, i) => arrays.reduce((s, a) => s + (a[i] ?? 0), 0) / arrays.length);
}

function colourOk(models: BiasModels) {
  return models.flatMap(({ model, evidence }) =>
    evidence.colour.status === 'ok' ? [{ model, c: evidence.colour }] : [],
  );
}

function biasHue(view: ReportView, lang: ReportLang): ChartConfiguration | null {
  const ok = colourOk(view.bias?.models ?? []);
  if (ok.length === 0) return null;
  const flagged = mean(
    ok.filter((o) => o.model.verdict === 'flagged').map((o) => o.c.hue),
    36,
  );
  const other = mean(
    ok.filter((o) => o.model.verdict !== 'flagged').map((o) => o.c.hue),
    36,
  );
  const ref = mean(
    ok.map((o) => o.c.refHue),
    36,
  );
  const datasets: ChartDataset<'line'>[] = [];
  const line = (
    label: string,
    data: number[],
    colour: string,
    dash: number[] = [],
  ): ChartDataset<'line'> => ({
    label,
    data,
    borderColor: colour,
    backgroundColor: colour,
    borderDash: dash,
    pointRadius: 0,
    borderWidth: 3,
    tension: 0.2,
  });
  if (flagged) datasets.push(line(rt(lang, 'chart.hue.flagged'), flagged, COLOURS.flagged));
  if (other) datasets.push(line(rt(lang, 'chart.hue.unflagged'), other, COLOURS.unflagged));
  if (ref) datasets.push(line(rt(lang, 'chart.hue.ref'), ref, COLOURS.reference, [8, 5]));
  return {
    type: 'line',
    data: { labels: Array.from({ length: 36 }, (_, i) => `${i * 10}`), datasets },
    options: chartOptions(rt(lang, 'chart.hue.title'), rt(lang, 'chart.hue.x'), rt(lang, 'chart.hue.y')),
  };
}

function intervalChart(
  title: string,
  x: string,
  rows: Array<{
    label: string;
    series: Array<{ name: string; colour: string; low: number; high: number; est: number }>;
  }>,
): ChartConfiguration {
  const names = rows[0]?.series.map((s) => ({ name: s.name, colour: s.colour })) ?? [];
  const datasets: ChartDataset[] = names.flatMap((s, k) => [
    {
      type: 'bar' as const,
      label: s.name,
      data: rows.map((r) => [r.series[k]?.low ?? 0, r.series[k]?.high ?? 0] as [number, number]),
      backgroundColor: s.colour,
      barPercentage: 0.7,
    },
  ]);
  return {
    type: 'bar',
    data: { labels: rows.map((r) => r.label), datasets: datasets as ChartDataset<'bar'>[] },
    options: chartOptions(title, x, '', { horizontal: true }),
  };
}

function biasSatVal(view: ReportView, lang: ReportLang): ChartConfiguration | null {
  const ok = colourOk(view.bias?.models ?? [])
    .sort(
      (a, b) =>
        Math.abs(b.c.satMeanDiff.estimate) +
          Math.abs(b.c.valMeanDiff.estimate) -
          (Math.abs(a.c.satMeanDiff.estimate) + Math.abs(a.c.valMeanDiff.estimate)) ||
        a.model.modelId - b.model.modelId,
    )
    .slice(0, 20);
  if (ok.length === 0) return null;
  return intervalChart(
    rt(lang, 'chart.sv.title'),
    rt(lang, 'chart.sv.x'),
    ok.map(({ model, c }) => ({
      label: modelLabel(model.name, model.modelId),
      series: [
        { name: rt(lang, 'chart.sv.sat'), colour: COLOURS.saturation, ...iv(c.satMeanDiff) },
        { name: rt(lang, 'chart.sv.val'), colour: COLOURS.value, ...iv(c.valMeanDiff) },
      ],
    })),
  );
}

const iv = (i: { estimate: number; low: number; high: number }) => ({
  est: i.estimate,
  low: i.low,
  high: i.high,
});

function biasFaces(view: ReportView, lang: ReportLang): ChartConfiguration | null {
  const ok = (view.bias?.models ?? []).flatMap(({ model, evidence }) =>
    evidence.faces.status === 'ok' ? [{ model, f: evidence.faces }] : [],
  );
  const flagged = ok.filter((o) => o.model.verdict === 'flagged').flatMap((o) => o.f.aspects);
  const other = ok.filter((o) => o.model.verdict !== 'flagged').flatMap((o) => o.f.aspects);
  const ref = ok.flatMap((o) => o.f.refAspects);
  if (flagged.length + other.length === 0) return null;
  const lo = 0.4;
  const hi = 1.6;
  const bins = 24;
  const share = (v: number[]) => {
    const h = histogram(v, lo, hi, bins);
    return v.length === 0 ? h : h.map((c) => c / v.length);
  };
  const datasets: ChartDataset<'bar'>[] = [];
  if (flagged.length > 0)
    datasets.push({
      label: rt(lang, 'chart.hue.flagged'),
      data: share(flagged),
      backgroundColor: COLOURS.flagged,
    });
  if (other.length > 0)
    datasets.push({
      label: rt(lang, 'chart.hue.unflagged'),
      data: share(other),
      backgroundColor: COLOURS.unflagged,
    });
  if (ref.length > 0)
    datasets.push({ label: rt(lang, 'chart.hue.ref'), data: share(ref), backgroundColor: COLOURS.reference });
  return {
    type: 'bar',
    data: {
      labels: Array.from({ length: bins }, (_, i) => fmt(lo + (i + 0.5) * ((hi - lo) / bins), 2)),
      datasets,
    },
    options: chartOptions(
      rt(lang, 'chart.faces.title'),
      rt(lang, 'chart.faces.x'),
      rt(lang, 'chart.faces.y'),
    ),
  };
}

const SHOTS = ['closeup', 'half', 'full', 'none'] as const;

function biasShots(view: ReportView, lang: ReportLang): ChartConfiguration | null {
  const ok = (view.bias?.models ?? []).flatMap(({ model, evidence }) =>
    evidence.composition.status === 'ok' ? [{ model, c: evidence.composition }] : [],
  );
  if (ok.length === 0) return null;
  const sum = (list: typeof ok, key: 'shots' | 'refShots'): number[] => {
    const totals = SHOTS.map((s) => list.reduce((n, o) => n + (o.c[key][s] ?? 0), 0));
    const all = totals.reduce((a, b) => a + b, 0);
    return totals.map((t) => (all > 0 ? t / all : 0));
  };
  const flagged = ok.filter((o) => o.model.verdict === 'flagged');
  const other = ok.filter((o) => o.model.verdict !== 'flagged');
  const datasets: ChartDataset<'bar'>[] = [];
  if (flagged.length > 0)
    datasets.push({
      label: rt(lang, 'chart.hue.flagged'),
      data: sum(flagged, 'shots'),
      backgroundColor: COLOURS.flagged,
    });
  if (other.length > 0)
    datasets.push({
      label: rt(lang, 'chart.hue.unflagged'),
      data: sum(other, 'shots'),
      backgroundColor: COLOURS.unflagged,
    });
  datasets.push({
    label: rt(lang, 'chart.hue.ref'),
    data: sum(ok, 'refShots'),
    backgroundColor: COLOURS.reference,
  });
  return {
    type: 'bar',
    data: { labels: SHOTS.map((s) => rt(lang, `shot.${s}`)), datasets },
    options: chartOptions(rt(lang, 'chart.shots.title'), '', rt(lang, 'chart.shots.y')),
  };
}

function biasDistances(view: ReportView, lang: ReportLang): ChartConfiguration | null {
  const ok = (view.bias?.models ?? [])
    .flatMap(({ model, evidence }) =>
      evidence.distance.status === 'ok' ? [{ model, d: evidence.distance }] : [],
    )
    .sort((a, b) => b.d.kid.estimate - a.d.kid.estimate || a.model.modelId - b.model.modelId)
    .slice(0, 20);
  if (ok.length === 0) return null;
  return intervalChart(
    rt(lang, 'chart.dist.title'),
    rt(lang, 'chart.dist.x'),
    ok.map(({ model, d }) => ({
      label: modelLabel(model.name, model.modelId),
      series: [
        { name: rt(lang, 'chart.dist.kid'), colour: COLOURS.kid, ...scaled(d.kid, 1000) },
        { name: rt(lang, 'chart.dist.cmmd'), colour: COLOURS.cmmd, ...iv(d.cmmd) },
      ],
    })),
  );
}

const scaled = (i: { estimate: number; low: number; high: number }, k: number) => ({
  est: i.estimate * k,
  low: i.low * k,
  high: i.high * k,
});

const BUILDERS: Record<ChartName, (view: ReportView, lang: ReportLang) => ChartConfiguration | null> = {
  'clip-low-match-rates': clipRates,
  'text-reports': textReports,
  'training-conflicts': trainingConflicts,
  'clip-similarity': clipSimilarity,
  'bias-distances': biasDistances,
  'bias-hue': biasHue,
  'bias-saturation-value': biasSatVal,
  'bias-face-aspect': biasFaces,
  'bias-shot-types': biasShots,
};

/** The chart configurations the data supports (a chart whose data is absent is left out). */
export function chartConfigs(
  view: ReportView,
  lang: ReportLang,
  only: readonly ChartName[] = CHART_NAMES,
): Array<{ name: ChartName; config: ChartConfiguration }> {
  return only.flatMap((name) => {
    const config = BUILDERS[name](view, lang);
    return config ? [{ name, config }] : [];
  });
}

/** Render the charts the data supports as PNGs (1000×560, white background). */
export async function renderCharts(
  view: ReportView,
  lang: ReportLang,
  only: readonly ChartName[] = CHART_NAMES,
): Promise<Chart[]> {
  const out: Chart[] = [];
  for (const { name, config } of chartConfigs(view, lang, only)) {
    // One chart at a time, letting queued I/O run in between (drawing is synchronous).
    await new Promise((resolve) => setImmediate(resolve));
    const png = await renderer().renderToBuffer(config as never);
    const title = config.options?.plugins?.title?.text;
    out.push({ name, file: `charts/${name}.png`, title: typeof title === 'string' ? title : name, png });
  }
  return out;
}

/** Draw one small chart with CJK text: loads the canvas fonts once, before a report is waited for. */
export async function warmUpCharts(): Promise<Buffer> {
  return renderer().renderToBuffer({
    type: 'bar',
    data: {
      labels: ['en', '中文'],
      datasets: [{ label: 'warm-up 预热', data: [1, 2], backgroundColor: COLOURS.unflagged }],
    },
    options: chartOptions('warm-up 预热', 'x', 'y'),
  } as never);
}
