import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { demoCatalogue } from '../fixtures/demo/catalogue.ts';
import { startCivitaiReplay } from '../support/civitai-replay.ts';
import { runCliCaptured } from '../support/run-cli.ts';

test('the offline demo audit flags the seeded problems and clears the clean model', async () => {
  const replay = await startCivitaiReplay({ catalogue: demoCatalogue() });
  const out = mkdtempSync(join(tmpdir(), 'loralens-demo-'));
  try {
    const r = await runCliCaptured(['audit', '--top', '5', '--out', out], {
      CIVITAI_BASE_URL: replay.url,
      CIVITAI_API_KEY: 'demo-key-not-secret',
      LORALENS_STORE_URL: 'memory://',
      LORALENS_MODELS_DIR: out,
      CIVITAI_RATE_PER_SECOND: '200',
    });
    assert.equal(r.code, 0, r.stderr);
    const rows = parse(readFileSync(join(out, 'metrics.csv')), { columns: true }) as Array<
      Record<string, string>
    >;
    const byId = new Map(rows.filter((row) => row.row_type === 'model').map((row) => [row.model_id, row]));
    // 910006 is published in 2022: outside the default window.
    assert.deepEqual([...byId.keys()], ['910001', '910002', '910003', '910004', '910005']);
    // Aurora Knight: clean captions, praise only.
    assert.equal(byId.get('910001')?.tag_error_text, 'false');
    assert.equal(byId.get('910001')?.tag_error_training, 'false');
    // Neon Street: reports in en/zh and the trigger is on 21 of 60 captions.
    assert.equal(byId.get('910002')?.tag_error_text, 'true');
    assert.equal(byId.get('910002')?.tag_error_training, 'true');
    // Twin Mages: 1girl with 1boy/2girls, two hair colours.
    assert.equal(byId.get('910003')?.tag_error_training, 'true');
    assert.ok(Number(byId.get('910003')?.training_conflicts) >= 2);
    // Watercolor: no header (ai-toolkit) → not measured, and a general question is not a report.
    assert.equal(byId.get('910004')?.training_status, 'no-training-metadata');
    assert.equal(byId.get('910004')?.tag_error_training, '');
    assert.equal(byId.get('910004')?.tag_error_text, 'false');
    // Retro Mecha Pilot: es/ru reports; the author's own "don't use the wrong tag" is not one.
    assert.equal(byId.get('910005')?.tag_error_text, 'true');
    const audit = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8'));
    const pilot = audit.models.find((m: { modelId: number }) => m.modelId === 910005);
    const langs = new Set(pilot.analyses.text.evidence.map((e: { lang: string }) => e.lang));
    assert.ok(langs.has('es') && langs.has('ru'));
    assert.ok(
      pilot.analyses.text.evidence.every(
        (e: { sourceKind: string; score: number }) => e.sourceKind !== 'description' || e.score < 0.3,
      ),
    );
    const keys = audit.models.flatMap((m: { findings: Array<{ itemKey: string }> }) =>
      m.findings.map((f) => f.itemKey),
    );
    assert.equal(new Set(keys).size, keys.length, 'finding keys are unique');
    assert.match(r.stdout, /910002 Neon Street Style: Possible tag errors found by: text, training\./);
  } finally {
    await replay.close();
  }
});

test('the service fetches sample images only from allowed hosts', async () => {
  const { createAuditService } = await import('../../src/app/create-audit-service.ts');
  const { loadConfig } = await import('../../src/config.ts');
  const { openStorage } = await import('../../src/storage/backend.ts');
  const { silentLogger } = await import('../../src/analysis/ports.ts');
  const replay = await startCivitaiReplay({ catalogue: demoCatalogue() });
  const storage = openStorage('memory://');
  const svc = createAuditService({
    config: loadConfig({ CIVITAI_BASE_URL: replay.url }),
    storage,
    logger: silentLogger,
  });
  try {
    const png = await svc.fetchImage(`${replay.url}/cdn/demo/920011-0/width=1024/9200110.jpeg`);
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    await assert.rejects(
      svc.fetchImage('https://evil.example.com/x.png'),
      (e: Error & { code?: string }) => e.code === 'HOST_NOT_ALLOWED',
    );
  } finally {
    await svc.close();
    await storage.close();
    await replay.close();
  }
});
