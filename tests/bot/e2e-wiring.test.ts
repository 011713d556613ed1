import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { silentLogger } from '../../src/analysis/ports.ts';
import { type AuditServiceHandle, createAuditService } from '../../src/app/create-audit-service.ts';
import { loadConfig } from '../../src/config.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { needsShared } from '../support/requirements.ts';
import { sharedCatalogue } from '../support/shared-catalogue.ts';
import { type Harness, startHarness } from './support/harness.ts';
import { embedsOf, finalEdit, isCallback } from './support/helpers.ts';
import { ManualClock } from './support/manual-clock.ts';

describe('the bot wired to the real AuditService against the local Civitai replay', needsShared(), () => {
  let replay: CivitaiReplay;
  let service: AuditServiceHandle;
  let h: Harness;
  const emptyModels = mkdtempSync(join(tmpdir(), 'loralens-bot-nomodels-'));
  before(async () => {
    replay = await startCivitaiReplay({ catalogue: sharedCatalogue(30) });
    const config = loadConfig({
      CIVITAI_BASE_URL: replay.url,
      LORALENS_STORE_URL: 'memory://',
      LORALENS_MODELS_DIR: emptyModels,
      CIVITAI_RATE_PER_SECOND: '200',
    });
    const storage = openStorage('memory://');
    service = createAuditService({ config, storage, logger: silentLogger });
    // The real service runs on real time; the bot’s clock starts now too.
    h = await startHarness({ auditService: service, storage, clock: new ManualClock() });
  });
  after(async () => {
    await h?.close();
    await service?.close();
    await replay?.close();
    rmSync(emptyModels, { recursive: true, force: true });
  });

  test('/audit model posts the real report: linked name, metrics.csv row, notes about missing models and API key', async () => {
    const i = h.discord.invoke({
      name: 'audit',
      subcommand: 'model',
      options: { model: 'https://civitai.com/models/101892/retro' },
    });
    const edit = await finalEdit(h.discord, i, 30_000);
    const [embed] = embedsOf(edit);
    assert.equal(embed?.url, 'https://civitai.com/models/101892');
    assert.ok(String(embed?.title).length > 0);
    const rows = parse(edit.files.find((f) => f.name === 'metrics.csv')?.data ?? Buffer.alloc(0), {
      columns: true,
    }) as Array<Record<string, string>>;
    const modelRow = rows.find((r) => r.row_type === 'model');
    assert.equal(modelRow?.model_id, '101892');
    assert.equal(modelRow?.image_count, '10');
    const fields = (embed?.fields as Array<{ name: string; value: string }> | undefined) ?? [];
    const notes = fields.find((f) => f.name === 'Notes')?.value ?? '';
    assert.match(notes, /CIVITAI_API_KEY/);
    assert.ok(edit.files.some((f) => f.name === 'audit.json'));
    assert.ok(replay.requests.some((r) => r.path.startsWith('/api/v1/models/101892')));
  });

  test('/audit top 3 crawls the listing and summarizes three models', async () => {
    const i = h.discord.invoke({ name: 'audit', subcommand: 'top', options: { n: 3 } });
    const edit = await finalEdit(h.discord, i, 30_000);
    assert.match(String(embedsOf(edit)[0]?.description), /^Audited 3: /);
    const rows = parse(edit.files.find((f) => f.name === 'metrics.csv')?.data ?? Buffer.alloc(0), {
      columns: true,
    }) as Array<Record<string, string>>;
    assert.equal(rows.filter((r) => r.row_type === 'model').length, 3);
  });

  test('autocomplete searches Civitai by name through the service', async () => {
    const a = h.discord.autocomplete({
      name: 'audit',
      subcommand: 'model',
      options: { model: 'retro' },
      focused: 'model',
    });
    const cb = await h.discord.waitFor(isCallback(a), 10_000);
    const choices =
      (cb.body?.data as { choices?: Array<{ name: string; value: string }> } | undefined)?.choices ?? [];
    assert.ok(choices.length >= 1 && choices.length <= 25, `choices ${choices.length}`);
    assert.ok(choices.every((c) => /^\d+$/.test(c.value)));
  });
});
