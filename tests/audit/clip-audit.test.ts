import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { ensureTinyClipModels } from '../../scripts/make-tiny-models.ts';
import { type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { needsShared, skipIfMissing } from '../support/requirements.ts';
import { runCliCaptured } from '../support/run-cli.ts';
import { SHARED_DIR, sharedCatalogue } from '../support/shared-catalogue.ts';

// Tiny generated ONNX towers with the real names and shapes, plus the real vocabulary from ../shared:
// the audit's CLIP path (fetch, decode, preprocess, tokenize, batch, score, calibrate) runs for real.
// Without ../shared only the option checks run (they are refused before any request).
const shared = needsShared();
let replay: CivitaiReplay;
let modelsDir: string;
before(async () => {
  const tiny = await ensureTinyClipModels();
  modelsDir = mkdtempSync(join(tmpdir(), 'loralens-clip-models-'));
  for (const f of ['vision_model.onnx', 'text_model.onnx'])
    copyFileSync(join(tiny.dir, f), join(modelsDir, f));
  if (shared.skip) return;
  replay = await startCivitaiReplay({ catalogue: sharedCatalogue(0) });
  copyFileSync(
    join(SHARED_DIR, 'models', 'clip-tokenizer', 'bpe_simple_vocab_16e6.txt.gz'),
    join(modelsDir, 'bpe_simple_vocab_16e6.txt.gz'),
  );
});
after(() => replay?.close());

const audit = async (extra: string[]) => {
  const out = mkdtempSync(join(tmpdir(), 'loralens-clip-out-'));
  const r = await runCliCaptured(['audit', '--model', '101892', '--out', out, ...extra], {
    CIVITAI_BASE_URL: replay.url,
    LORALENS_STORE_URL: 'memory://',
    LORALENS_MODELS_DIR: modelsDir,
    CIVITAI_RATE_PER_SECOND: '200',
  });
  assert.equal(r.code, 0, r.stderr);
  const rows = parse(readFileSync(join(out, 'metrics.csv')), { columns: true }) as Array<
    Record<string, string>
  >;
  const json = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8'));
  return { rows, json };
};

test('with model files, metrics.csv gains one row per scored image and the per-model CLIP columns', async (ctx) => {
  if (skipIfMissing(ctx, shared)) return;
  const { rows, json } = await audit([]);
  const images = rows.filter((r) => r.row_type === 'image');
  const model = rows.find((r) => r.row_type === 'model')!;
  // 9 of the 10 sample images have prompts; the video is not sent to CLIP.
  assert.equal(images.length, 9);
  for (const row of images) {
    assert.equal(row.model_id, '101892');
    assert.equal(row.version_id, '1448477');
    assert.ok(
      Number.isFinite(Number(row.clip_cosine)) && row.clip_cosine !== '',
      `cosine ${row.clip_cosine}`,
    );
    assert.ok(
      Math.abs(Number(row.clipscore) - 2.5 * Math.max(0, Number(row.clip_cosine))) < 1e-9,
      'CLIPScore = 2.5·max(cos, 0)',
    );
    assert.doesNotMatch(row.prompt_clean ?? '', /<lora:|\(\w+:\d/);
  }
  assert.equal(model.clip_images_scored, '9');
  assert.equal(model.clip_mode, 'calibrated');
  // One model's 9 prompts are too few distinct shuffled prompts for a calibrated decision: not measured, and said.
  assert.equal(model.low_match_rate, '');
  assert.ok(
    json.notes.some((n: string) => /prompt/i.test(n)),
    json.notes.join(' | '),
  );
});

test('--clip-threshold switches to the uncalibrated raw mode, labelled as such, with a Wilson interval', async (ctx) => {
  if (skipIfMissing(ctx, shared)) return;
  const { rows, json } = await audit(['--clip-threshold', '0.99']);
  const model = rows.find((r) => r.row_type === 'model')!;
  assert.equal(model.clip_mode, 'raw-threshold-uncalibrated');
  // Random tiny towers never reach a cosine of 0.99: every image is a low match.
  assert.equal(model.low_match_rate, '1');
  assert.ok(Number(model.low_match_ci_low) > 0.6 && Number(model.low_match_ci_low) < 1);
  assert.equal(model.low_match_ci_high, '1');
  assert.ok(rows.filter((r) => r.row_type === 'image').every((r) => r.low_match === 'true'));
  assert.ok(json.notes.some((n: string) => /uncalibrated/.test(n)));
  assert.equal(json.flaggedImages.length, 9);
  assert.ok(json.flaggedImages.every((f: { nsfwLevel: number }) => f.nsfwLevel >= 1 && f.nsfwLevel <= 2));
});

test('--clip-alpha and --clip-null-k reach the calibration and are recorded with the evidence', async (ctx) => {
  if (skipIfMissing(ctx, shared)) return;
  const { json } = await audit(['--clip-alpha', '0.1', '--clip-null-k', '7']);
  const evidence = JSON.stringify(json);
  assert.match(evidence, /"alpha":0\.1,"nullK":7,/);
});

test('bad CLIP calibration options are one sentence and exit code 2', async () => {
  const env = {
    CIVITAI_BASE_URL: replay?.url ?? 'http://127.0.0.1:9',
    LORALENS_STORE_URL: 'memory://',
    LORALENS_MODELS_DIR: modelsDir,
  };
  for (const [args, pattern] of [
    [['--clip-alpha', '1.5'], /--clip-alpha must be a number between 0 and 1/],
    [['--clip-alpha', 'x'], /--clip-alpha must be/],
    [['--clip-null-k', '0'], /--clip-null-k must be a whole number/],
    [['--clip-threshold', '0.3', '--clip-alpha', '0.1'], /cannot be combined/],
  ] as const) {
    const r = await runCliCaptured(['audit', '--model', '101892', ...args], env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
