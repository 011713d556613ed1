import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { inDateWindow } from '../../src/analysis/civitai/crawl.ts';
import { ModelRecord } from '../../src/analysis/civitai/record.ts';
import { Model } from '../../src/analysis/civitai/schemas.ts';
import type { Catalogue } from '../support/catalogue.ts';
import { buildSafetensors, type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { needsShared, skipIfMissing } from '../support/requirements.ts';
import { runCliCaptured } from '../support/run-cli.ts';
import { sharedCatalogue, sorakaMetadata } from '../support/shared-catalogue.ts';

// The replay serves the recorded models in ../shared; without that folder its tests are skipped.
const shared = needsShared();
let catalogue: Catalogue;
let replay: CivitaiReplay;
const emptyModels = mkdtempSync(join(tmpdir(), 'loralens-nomodels-'));
before(async () => {
  if (shared.skip) return;
  catalogue = sharedCatalogue(40);
  replay = await startCivitaiReplay({ catalogue });
});
after(() => replay?.close());

const tmp = () => mkdtempSync(join(tmpdir(), 'loralens-cli-'));
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  // Without the replay (no ../shared) only tests that never reach Civitai run: a refused port.
  CIVITAI_BASE_URL: replay?.url ?? 'http://127.0.0.1:9',
  LORALENS_STORE_URL: 'memory://',
  LORALENS_MODELS_DIR: emptyModels,
  CIVITAI_RATE_PER_SECOND: '200',
  LOG_LEVEL: 'silent',
  ...extra,
});

describe('loralens crawl', shared, () => {
  test('--top 5 prints the table and writes crawl.json with five full records in listing order', async () => {
    const out = tmp();
    const r = await runCliCaptured(['crawl', '--top', '5', '--out', out], env());
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(
      lines[0] ?? '',
      /^id\s+name\s+type\s+versions\s+images\s+comments\s+train tags\s+published$/,
    );
    // Header, rule, five models, then the legend of the comment cells (no API key here).
    assert.equal(lines.length, 2 + 5 + 1);
    assert.match(lines[2] ?? '', /\bn\/a \(no API key\)/);
    assert.match(lines[7] ?? '', /^comments n\/a \(no API key\): .*CIVITAI_API_KEY/);
    const doc = JSON.parse(readFileSync(join(out, 'crawl.json'), 'utf8'));
    assert.equal(doc.models.length, 5);
    const expected = catalogue.models
      .map((m) => Model.parse(m))
      .filter(
        (m) => ['LORA', 'LoCon', 'DoRA'].includes(m.type) && inDateWindow(m, '2023-01-01', '2025-12-31'),
      )
      .slice(0, 5)
      .map((m) => m.id);
    assert.deepEqual(
      doc.models.map((m: { id: number }) => m.id),
      expected,
    );
    assert.deepEqual(expected.slice(0, 3), [11821, 1580878, 101892]);
    for (const m of doc.models) {
      const parsed = ModelRecord.parse(m);
      assert.deepEqual(Object.keys(m), Object.keys(parsed), 'stable key order');
    }
    assert.match(r.stderr, /5 model\(s\)/);
  });
});

describe('loralens audit', shared, () => {
  test('--model writes metrics.csv (one model row, analysis columns) and audit.json with notes', async () => {
    const out = tmp();
    const r = await runCliCaptured(
      ['audit', '--model', 'https://civitai.com/models/101892/retro', '--out', out],
      env(),
    );
    assert.equal(r.code, 0, r.stderr);
    const rows = parse(readFileSync(join(out, 'metrics.csv')), { columns: true }) as Array<
      Record<string, string>
    >;
    assert.equal(rows.filter((r) => r.row_type === 'model').length, 1);
    const row = rows[0]!;
    assert.equal(row.row_type, 'model');
    assert.equal(row.model_id, '101892');
    assert.equal(row.version_count, '1');
    assert.equal(row.image_count, '10');
    assert.equal(row.has_training_tags, 'true');
    for (const c of [
      'tag_error_text',
      'tag_error_text_score',
      'tag_error_training',
      'training_conflicts',
      'low_match_rate',
    ]) {
      assert.ok(c in row, `column ${c}`);
    }
    assert.equal(row.low_match_rate, '', 'CLIP not measured without model files');
    const audit = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8'));
    assert.ok(audit.notes.some((n: string) => /npm run models/.test(n)));
    assert.ok(audit.notes.some((n: string) => /CIVITAI_API_KEY/.test(n)));
    assert.equal(audit.models[0].modelId, 101892);
    assert.ok(Array.isArray(audit.models[0].analyses.training.findings));
  });

  test('--file hashes a local LoRA, reads its header locally and still works when Civitai does not know it', async () => {
    const dir = tmp();
    const path = join(dir, 'mine.safetensors');
    writeFileSync(path, buildSafetensors(sorakaMetadata(), 1024 * 1024));
    const out = tmp();
    const before = replay.requests.length;
    const r = await runCliCaptured(['audit', '--file', path, '--out', out], env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no published model with this file hash/);
    assert.ok(
      replay.requests.slice(before).every((q) => !q.path.startsWith('/storage/')),
      'no Range request',
    );
    const rows = parse(readFileSync(join(out, 'metrics.csv')), { columns: true }) as Array<
      Record<string, string>
    >;
    assert.equal(rows[0]?.has_training_tags, 'true');
    assert.equal(rows[0]?.training_status, 'ok');
  });

  test('--file works offline for the header part when Civitai cannot be reached', async () => {
    const dir = tmp();
    const path = join(dir, 'offline.safetensors');
    writeFileSync(path, buildSafetensors(sorakaMetadata(), 1024));
    const out = tmp();
    const r = await runCliCaptured(
      ['audit', '--file', path, '--out', out],
      env({ CIVITAI_BASE_URL: 'http://127.0.0.1:9', CIVITAI_TIMEOUT_MS: '500' }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /lookup failed/);
  });
});

describe('bad input: one sentence on stderr, exit code 2, no stack trace', () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      'unknown id',
      ['crawl', '--model', '424242424'],
      /(^|\n)error: Civitai has no model with id 424242424\.\n$/,
    ],
    ['malformed URL', ['crawl', '--model', 'https://civitai.com/images/77'], /not a Civitai model URL/],
    ['N = 0', ['crawl', '--top', '0'], /--top must be greater than 0/],
    ['N negative', ['crawl', '--top', '-3'], /--top must be greater than 0/],
    ['N not a number', ['crawl', '--top', 'ten'], /--top must be a whole number/],
    ['impossible date', ['crawl', '--top', '3', '--from', '2024-02-30'], /--from must be a real date/],
    ['from after to', ['crawl', '--top', '3', '--from', '2025-01-01', '--to', '2024-01-01'], /is after --to/],
    [
      'unknown type',
      ['crawl', '--top', '3', '--types', 'LORA,Checkpoint'],
      /Unknown model type "Checkpoint"/,
    ],
    ['two selectors', ['crawl', '--top', '3', '--model', '5'], /Use only one of/],
    ['no selector', ['audit'], /Say what to audit/],
    ['bad hash', ['audit', '--hash', 'xyz'], /not a file hash/],
    ['not safetensors', ['audit', '--file', '/etc/hostname'], /not a \.safetensors file/],
    ['unknown flag', ['crawl', '--tpo', '3'], /unknown option/],
  ];
  for (const [name, argv, expected] of cases) {
    // Only 'unknown id' asks Civitai (the replay); the rest are refused before any request.
    test(name, name === 'unknown id' ? shared : {}, async () => {
      const r = await runCliCaptured([...argv, '--out', tmp()], env());
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, expected);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stderr.match(/error: /g)?.length, 1, 'exactly one error sentence');
    });
  }

  test('a bad environment value is one clear sentence', async () => {
    const r = await runCliCaptured(['crawl', '--top', '1'], env({ CIVITAI_BASE_URL: 'not a url' }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: Invalid configuration: CIVITAI_BASE_URL must be a URL/);
  });
});

test('network failure: exit code 1 saying what failed', async () => {
  const r = await runCliCaptured(
    ['crawl', '--top', '2', '--out', tmp()],
    env({ CIVITAI_BASE_URL: 'http://127.0.0.1:9', CIVITAI_TIMEOUT_MS: '500' }),
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error: Could not reach Civitai \(http:\/\/127\.0\.0\.1:9\/api\/v1\/models/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

describe('cache and resume (sqlite store)', shared, () => {
  test('a second run inside the TTL makes zero upstream requests', async () => {
    const store = `sqlite://${join(tmp(), 'cache.sqlite')}`;
    const first = await runCliCaptured(
      ['crawl', '--top', '5', '--out', tmp()],
      env({ LORALENS_STORE_URL: store }),
    );
    assert.equal(first.code, 0, first.stderr);
    const before = replay.requests.length;
    const out = tmp();
    const second = await runCliCaptured(
      ['crawl', '--top', '5', '--out', out],
      env({ LORALENS_STORE_URL: store }),
    );
    assert.equal(second.code, 0, second.stderr);
    assert.equal(replay.requests.length - before, 0);
    assert.match(second.stderr, /5 from cache/);
    assert.equal(JSON.parse(readFileSync(join(out, 'crawl.json'), 'utf8')).models.length, 5);
  });

  test('a crawl killed with SIGKILL resumes without refetching finished models, no duplicates, none missing', async () => {
    const slow = await startCivitaiReplay({ catalogue, delayMs: 40 });
    const store = `sqlite://${join(tmp(), 'resume.sqlite')}`;
    const childEnv = { ...process.env, ...env({ CIVITAI_BASE_URL: slow.url, LORALENS_STORE_URL: store }) };
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'crawl', '--top', '12', '--out', tmp()],
      {
        env: childEnv,
        stdio: 'ignore',
      },
    );
    const imageRequests = () => slow.requests.filter((r) => r.path.startsWith('/api/v1/images?'));
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (imageRequests().length >= 12) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.once('exit', (code) => {
        clearInterval(timer);
        reject(new Error(`child exited before it was killed (code ${code})`));
      });
    });
    await new Promise((r) => child.once('exit', r));
    const firstRunImages = new Set(imageRequests().map((r) => r.path));
    const before = slow.requests.length;
    const out = tmp();
    const r = await runCliCaptured(
      ['crawl', '--top', '12', '--out', out],
      env({ CIVITAI_BASE_URL: slow.url, LORALENS_STORE_URL: store }),
    );
    assert.equal(r.code, 0, r.stderr);
    const ids = JSON.parse(readFileSync(join(out, 'crawl.json'), 'utf8')).models.map(
      (m: { id: number }) => m.id,
    );
    assert.equal(ids.length, 12);
    assert.equal(new Set(ids).size, 12);
    const second = slow.requests.slice(before);
    assert.equal(
      second.filter((q) => q.path.startsWith('/api/v1/models?')).length,
      0,
      'listing page came from the cache',
    );
    const fromCache = Number(/\((\d+) from cache\)/.exec(r.stderr)?.[1]);
    assert.ok(fromCache >= 1 && fromCache < 12, `resumed with ${fromCache} finished models`);
    const refetched = second.filter(
      (q) => q.path.startsWith('/api/v1/images?') && firstRunImages.has(q.path),
    );
    // Only models that were mid-crawl at the kill may be asked again; finished ones never.
    assert.ok(refetched.length <= 4, `refetched ${refetched.length} image pages`);
    await slow.close();
  });
});

test('--file of a known version: matched by SHA-256, its local header is the one analysed, no Range reads', async (ctx) => {
  if (skipIfMissing(ctx, shared)) return;
  const { createHash } = await import('node:crypto');
  const dir = tmp();
  const path = join(dir, 'vsk-old.safetensors');
  const bytes = buildSafetensors(sorakaMetadata(), 64 * 1024);
  writeFileSync(path, bytes);
  const sha = createHash('sha256').update(bytes).digest('hex').toUpperCase();
  const cat = sharedCatalogue(0);
  // The older version 13966 of model 11821 is this file; upstream it has no header at all.
  const model = cat.models.find((m) => m.id === 11821)!;
  const v = (
    model.modelVersions as Array<{ id: number; files: Array<{ hashes: Record<string, string> }> }>
  ).find((x) => x.id === 13966)!;
  v.files[0]!.hashes = { ...v.files[0]!.hashes, SHA256: sha };
  cat.headers.delete(13966);
  const own = await startCivitaiReplay({ catalogue: cat });
  try {
    const out = tmp();
    const r = await runCliCaptured(
      ['audit', '--file', path, '--out', out],
      env({ CIVITAI_BASE_URL: own.url }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /is version "v1\.0" of model 11821/);
    assert.ok(
      own.requests.every((q) => !q.path.startsWith('/storage/') && !q.path.startsWith('/api/download/')),
      'no Range request',
    );
    const audit = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8'));
    const training = audit.models[0].analyses.training;
    assert.equal(training.status, 'ok');
    assert.equal(training.targetVersionId, 13966);
    assert.equal(training.datasets[0].name, 'Soraka_Classic');
  } finally {
    await own.close();
  }
});
