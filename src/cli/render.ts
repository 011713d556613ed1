import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../analysis/ports.ts';

/** Fixed-width text table; cells are truncated to `max` characters. */
export function renderTable(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
  max = 40,
): string {
  const cut = (v: string | number): string => {
    const s = String(v).replace(/\s+/g, ' ');
    return s.length > max ? `${s.slice(0, max - 1)}…` : s;
  };
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

const SUB_STAGES = new Set(['images']);

export interface ProgressRenderer {
  update(event: ProgressEvent): void;
  stop(): void;
}

/** A progress bar on a TTY, plain throttled lines otherwise (both on stderr). */
export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressRenderer {
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
        // Per-model sub-steps only change the message line; the bar tracks the main stages.
        if (started && SUB_STAGES.has(e.stage)) {
          bar.update({ message: (e.message ?? '').slice(0, 40) });
          return;
        }
        const total = Math.max(e.total, e.done, 1);
        if (!started || stage !== e.stage) {
          if (started) bar.stop();
          bar.start(total, e.done, { stage: e.stage.padEnd(9), message: e.message ?? '' });
          started = true;
          stage = e.stage;
        } else {
          bar.setTotal(total);
          bar.update(e.done, { message: (e.message ?? '').slice(0, 40) });
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = '';
  let lastAt = 0;
  return {
    update(e) {
      const text = `${e.stage} ${e.done}/${e.total}${e.message ? ` ${e.message}` : ''}`;
      const now = Date.now();
      const stageDone = e.done === e.total;
      if (text === last || (!stageDone && now - lastAt < 1000)) return;
      last = text;
      lastAt = now;
      stream.write(`${text}\n`);
    },
    stop() {},
  };
}
