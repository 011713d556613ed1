/**
 * Report bench: the whole report (9 charts, Detailed_Report.md, report.html, both one-page PDFs)
 * for a synthetic but realistic 200-model audit document with every analysis's evidence, text,
 * training, CLIP (~4 000 image rows) and bias; min / median / max of 3 runs after one warm-up.
 * Goal: under 5 s on a 4-core machine. error_samples.zip is left out (it is bound by image downloads).
 */
import { buildReport } from '../../src/report/build.ts';
import { fixtureAudit } from '../../tests/report/fixture.ts';
import type { BenchSection } from './types.ts';

export async function run(): Promise<BenchSection> {
  const doc = fixtureAudit({ models: 200, seed: 11 });
  const bytes = Buffer.byteLength(JSON.stringify(doc));
  await buildReport(fixtureAudit({ models: 5 }));
  const times: number[] = [];
  let files = 0;
  let total = 0;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const built = await buildReport(doc);
    times.push((performance.now() - t0) / 1000);
    files = built.files.length;
    total = built.files.reduce((n, f) => n + f.data.length, 0);
  }
  times.sort((a, b) => a - b);
  return {
    name: 'report',
    rows: [
      {
        case: 'report for a 200-model audit (charts + md + html + 2 PDFs)',
        models: doc.models.length,
        image_rows: doc.rows.length,
        audit_json_mb: Number((bytes / 1e6).toFixed(2)),
        files,
        output_mb: Number((total / 1e6).toFixed(2)),
        min_s: Number(times[0]?.toFixed(2)),
        median_s: Number(times[1]?.toFixed(2)),
        max_s: Number(times[2]?.toFixed(2)),
        goal_s: 5,
      },
    ],
    notes: ['Wall-clock on this machine; the first run (font and canvas warm-up) is not counted.'],
  };
}
