import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../analysis/ports.ts';
import { snippet } from '../analysis/text/snippet.ts';

/** Fixed-width text table; cells are cut at a word boundary to `max` characters. */
export function renderTable(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
  max = 40,
): string {
  const cut = (v: string | number): string => snippet(String(v), max);
  const cells = [headers.map(cut), ...rows.map((r) => r.map(cut))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (/^-?\d+(\.\d+)?$/.test(c) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [
    line(cells[0] ?? []),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map(line),
  ].join('\n');
}

/** Comments as the summary tables show them: how many were read, or n/a and why. */
export function commentsCell(
  comments: { status: 'ok' | 'unavailable' | 'skipped'; reason: string | null; read: number | null },
  hasApiKey: boolean,
): string {
  if (comments.status === 'ok') {
    return comments.reason?.startsWith('partial')
      ? `${comments.read ?? 0} (partial)`
      : `${comments.read ?? 0}`;
  }
  if (comments.status === 'skipped') {
    return comments.reason?.startsWith('local file') ? 'n/a (local file)' : 'n/a (--no-comments)';
  }
  return hasApiKey ? 'n/a (refused)' : 'n/a (no API key)';
}

const COMMENTS_LEGEND: ReadonlyArray<[RegExp, string]> = [
  [
    /n\/a \(no API key\)/,
    'comments n/a (no API key): comments and reviews were not read; Civitai serves them only with CIVITAI_API_KEY set.',
  ],
  [/n\/a \(refused\)/, 'comments n/a (refused): Civitai refused the comment endpoints; the notes say how.'],
  [/n\/a \(--no-comments\)/, 'comments n/a (--no-comments): comments and reviews were not asked for.'],
  [
    /n\/a \(local file\)/,
    'comments n/a (local file): Civitai does not know the file, so it has no comments.',
  ],
  [/\(partial\)/, 'comments (partial): one comment endpoint failed part way; the count is what was read.'],
];

/** Legend lines for the comment cells that appear in a table (none when every cell is a count). */
export function commentsLegend(cells: readonly string[]): string[] {
  return COMMENTS_LEGEND.filter(([re]) => cells.some((c) => re.test(c))).map(([, line]) => line);
}

const SUB_STAGES = new Set(['images']);

/** What each analysis scores, for the progress line and the summary under the audit table. */
export const ANALYSIS_LABELS: Readonly<Record<string, string>> = {
  text: 'tag-error reports in the description, changelogs, comments and reviews',
  training: 'training tags in the file header against the trigger words',
  clip: 'CLIP match of each sample image with its own prompt',
  bias: 'colour, faces, composition and CLIP distances against a reference (informational, never flags)',
};

/** How the progress line names a stage (the service's `scoring` is the analyses running in turn). */
const STAGE_LABELS: Readonly<Record<string, string>> = {
  scoring: 'analyses',
  'clip-images': 'CLIP images',
  'clip-prompts': 'CLIP prompts',
};

/** Stage label and message of one event; `names` collects the analyses seen so far. */
function describe(e: ProgressEvent, names: string[]): { stage: string; message: string } {
  const stage = STAGE_LABELS[e.stage] ?? e.stage;
  if (e.stage !== 'scoring') return { stage, message: e.message ?? '' };
  if (e.message && !names.includes(e.message)) names.push(e.message);
  if (e.message) {
    const label = ANALYSIS_LABELS[e.message];
    return { stage, message: `running ${e.message}${label ? `: ${label}` : ''}` };
  }
  return { stage, message: e.done >= e.total ? `done: ${names.join(', ')}` : '' };
}

export interface ProgressRenderer {
  update(event: ProgressEvent): void;
  stop(): void;
}

/**
 * A progress bar on a TTY, plain throttled lines otherwise (both on stderr). A count is shown as
 * done/total only when the total is known (never "/0").
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressRenderer {
  const names: string[] = [];
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: '{stage} |{bar}| {value}/{total} {message}',
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    let stage = '';
    return {
      update(e) {
        const shown = describe(e, names);
        // Per-model sub-steps only change the message line; the bar tracks the main stages.
        if (started && SUB_STAGES.has(e.stage)) {
          bar.update({ message: snippet(shown.message, 60) });
          return;
        }
        const total = Math.max(e.total, e.done, 1);
        if (!started || stage !== e.stage) {
          if (started) bar.stop();
          bar.start(total, e.done, { stage: shown.stage.padEnd(9), message: snippet(shown.message, 60) });
          started = true;
          stage = e.stage;
        } else {
          bar.setTotal(total);
          bar.update(e.done, { message: snippet(shown.message, 60) });
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = '';
  let lastStage = '';
  let lastAt = 0;
  return {
    update(e) {
      const shown = describe(e, names);
      const count = e.total > 0 ? `${e.done}/${e.total}` : `${e.done}`;
      const text = `${shown.stage} ${count}${shown.message ? ` ${shown.message}` : ''}`;
      const now = Date.now();
      const stageDone = e.total > 0 && e.done >= e.total;
      const newStage = e.stage !== lastStage;
      if (text === last || (!stageDone && !newStage && now - lastAt < 1000)) return;
      last = text;
      lastStage = e.stage;
      lastAt = now;
      stream.write(`${text}\n`);
    },
    stop() {},
  };
}
