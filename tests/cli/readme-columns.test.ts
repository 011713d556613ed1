import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Agent } from 'undici';
import { createBiasAnalyzer } from '../../src/analysis/audit/bias-analyzer.ts';
import { createClipAnalyzer } from '../../src/analysis/audit/clip-analyzer.ts';
import { MODEL_COLUMNS, Verdict } from '../../src/analysis/audit/metrics-csv.ts';
import { createTextAnalyzer } from '../../src/analysis/audit/text-analyzer.ts';
import { createTrainingAnalyzer, TrainingStatus } from '../../src/analysis/audit/training-analyzer.ts';
import { AuditModelType } from '../../src/analysis/audit/types.ts';
import { BIAS_IMAGE_COLUMNS } from '../../src/analysis/bias/analysis-types.ts';
import { ShotType } from '../../src/analysis/bias/evidence.ts';
import { ClipMatchMode } from '../../src/analysis/clip/image-audit.ts';
import { ImageSkipReason } from '../../src/analysis/images/types.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const start = readme.indexOf('**`metrics.csv`**');
const section = readme.slice(start, readme.indexOf('**`audit.json`**', start));

test("the README's metrics.csv table documents every model column", async () => {
  assert.ok(start >= 0);
  const dispatcher = new Agent();
  const clip = createClipAnalyzer({ modelDir: '/nonexistent', dispatcher, extraAllowedOrigins: [] });
  const columns = [
    ...MODEL_COLUMNS,
    ...createTextAnalyzer().columns,
    ...createTrainingAnalyzer().columns,
    ...clip.columns,
    ...createBiasAnalyzer().columns,
    ...BIAS_IMAGE_COLUMNS,
  ];
  await dispatcher.close();
  const missing = columns.filter((c) => !section.includes(`\`${c}\``));
  assert.deepEqual(missing, []);
});

test("the README's metrics.csv table lists every value of every closed-set column", () => {
  const closed: Record<string, readonly string[]> = {
    row_type: ['model', 'image'],
    type: AuditModelType.options,
    verdict: Verdict.options,
    training_status: TrainingStatus.options,
    clip_mode: Object.values(ClipMatchMode),
    skipped: Object.values(ImageSkipReason),
    shot: ShotType.options,
  };
  for (const [column, values] of Object.entries(closed)) {
    const row = section.split('\n').find((l) => l.startsWith(`| \`${column}\``));
    assert.ok(row, `a table row for ${column}`);
    const missing = values.filter((v) => !row.includes(`\`${v}\``));
    assert.deepEqual(missing, [], `${column} values missing from the README`);
  }
});
