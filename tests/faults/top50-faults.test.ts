import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { BIAS_COLUMNS } from '../../src/analysis/audit/bias-analyzer.ts';
import type { AuditResult } from '../../src/analysis/audit/service.ts';
import type { Clock, Logger } from '../../src/analysis/ports.ts';
import { createAuditService } from '../../src/app/create-audit-service.ts';
import { loadConfig } from '../../src/config.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { type Json, versionsOf } from '../support/catalogue.ts';
import { type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { needsShared } from '../support/requirements.ts';
import { sharedCatalogue } from '../support/shared-catalogue.ts';
import { type FaultProxy, PROXY_FAULTS, type ProxyFault, startFaultProxy } from './fault-proxy.ts';

/**
 * A top-50 audit through a seeded fault proxy (20 % of requests: 429, 500/502/503, resets, cut and
 * truncated bodies) must give, for every model whose requests all eventually succeeded, the same
 * metrics.csv rows as the fault-free run through the same proxy; models whose requests failed after
 * the retries must show it in their record (training error, comments unavailable/partial, images
 * from the fallback), never silently differ. Backoff waits are recorded and shortened to ≤ 5 ms by
 * the injected clock, so the run takes seconds.
 */

const N = 50;
const SEED = 14;
const RATE = 0.2;
describe('fault injection (needs ../shared)', needsShared(), () => {
  const catalogue = sharedCatalogue(100);

  const versionToModel = new Map<number, number>();
  for (const m of catalogue.models)
    for (const v of versionsOf(m)) versionToModel.set(v.id as number, m.id as number);
  const reviewToModel = new Map<number, number>();
  for (const [modelId, reviews] of catalogue.reviews)
    for (const r of reviews) reviewToModel.set(r.id as number, modelId);

  /** The model a request belongs to (undefined for the listing, which every model shares). */
  function modelOf(path: string): number | undefined {
    const url = new URL(path, 'http://x');
    const p = url.pathname;
    let m = /^\/api\/v1\/models\/(\d+)$/.exec(p);
    if (m) return Number(m[1]);
    m = /^\/api\/v1\/model-versions\/(\d+)$/.exec(p) ?? /^\/api\/download\/models\/(\d+)$/.exec(p);
    m ??= /^\/storage\/(\d+)\.safetensors$/.exec(p) ?? /\/replay-(\d+)-\d+\//.exec(p);
    if (m) return versionToModel.get(Number(m[1]));
    if (p === '/api/v1/images') return versionToModel.get(Number(url.searchParams.get('modelVersionId')));
    if (p.startsWith('/api/trpc/')) {
      const input = (JSON.parse(url.searchParams.get('input') ?? '{}') as { json?: Json }).json ?? {};
      if (input.modelId !== undefined) return Number(input.modelId);
      if (input.entityId !== undefined) return reviewToModel.get(Number(input.entityId));
    }
    return undefined;
  }

  function fastClock(): Clock & { sleeps: number[] } {
    const sleeps: number[] = [];
    return {
      sleeps,
      now: () => Date.now(),
      sleep: (ms, signal) =>
        new Promise((resolve, reject) => {
          sleeps.push(ms);
          if (signal?.aborted) {
            reject(signal.reason);
            return;
          }
          setTimeout(resolve, Math.min(ms, 5));
        }),
    };
  }

  function warningsLogger(into: string[]): Logger {
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      warn: (_obj, msg) => void into.push(msg ?? ''),
      error: (_obj, msg) => void into.push(msg ?? ''),
      child: () => logger,
    };
    return logger;
  }

  let replay: CivitaiReplay;
  let proxy: FaultProxy;
  const modelsDir = mkdtempSync(join(tmpdir(), 'loralens-faults-nomodels-'));

  before(async () => {
    proxy = await startFaultProxy({ rate: 0, seed: SEED });
    // Storage redirects go to the proxy too, so Range reads meet faults like every other request.
    replay = await startCivitaiReplay({ catalogue, storageOrigin: proxy.url, tensorBytes: 4096 });
    proxy.upstream = replay.url;
  });
  after(async () => {
    await proxy.close();
    await replay.close();
  });

  async function audit(clock: Clock, warnings: string[]): Promise<AuditResult> {
    const config = loadConfig({
      CIVITAI_BASE_URL: proxy.url,
      CIVITAI_API_KEY: 'fault-test-key',
      LORALENS_STORE_URL: 'memory://',
      LORALENS_MODELS_DIR: modelsDir,
      CIVITAI_RATE_PER_SECOND: '1000',
      CIVITAI_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'silent',
    });
    const storage = openStorage('memory://');
    const svc = createAuditService({ config, storage, logger: warningsLogger(warnings), clock });
    try {
      return await svc.audit({ kind: 'top', n: N }, { comments: true });
    } finally {
      await svc.close();
      await storage.close();
    }
  }

  function auditJson(result: AuditResult): { models: Array<{ modelId: number }> } {
    const file = result.files.find((f) => f.name === 'audit.json');
    assert.ok(file, 'audit.json written');
    return JSON.parse(file.data.toString('utf8')) as { models: Array<{ modelId: number }> };
  }

  /**
   * The bias analysis compares each model against all other models' images (leave-one-out), so one
   * image lost anywhere changes every model's reference and its numbers; that reference and its N are
   * in `bias_reference` and checked separately. The model's own image count (`n_images`) stays.
   */
  const POPULATION_DEPENDENT = new Set<string>(BIAS_COLUMNS.filter((c) => c !== 'n_images'));
  function ownPart(row: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(row)) {
      if (POPULATION_DEPENDENT.has(k)) continue;
      out[k] = k === 'verdict_reason' ? v.replace(/ bias: informational, vs .*$/, '') : v;
    }
    return out;
  }

  function rowsByModel(result: AuditResult): Map<string, Array<Record<string, string>>> {
    const file = result.files.find((f) => f.name === 'metrics.csv');
    assert.ok(file, 'metrics.csv written');
    const rows = (parse(file.data, { columns: true }) as Array<Record<string, string>>).map(ownPart);
    const by = new Map<string, Array<Record<string, string>>>();
    for (const row of rows) by.set(row.model_id ?? '', [...(by.get(row.model_id ?? '') ?? []), row]);
    return by;
  }

  test('top-50 audit with 20 % injected faults equals the fault-free run for every model that succeeded', async () => {
    const baseline = await audit(fastClock(), []);
    const baselineRequests = proxy.log.length;
    const expected = rowsByModel(baseline);
    assert.equal(expected.size, N, 'the fault-free run audits 50 models');

    proxy.reset();
    proxy.options.rate = RATE;
    const clock = fastClock();
    const warnings: string[] = [];
    const started = Date.now();
    const faulty = await audit(clock, warnings);
    const wallMs = Date.now() - started;
    const got = rowsByModel(faulty);

    // A request path gave up when its last attempt was a fault (no later success for it).
    const last = new Map<string, { fault: ProxyFault | null; path: string }>();
    for (const r of proxy.log) last.set(`${r.path}`, { fault: r.fault, path: r.path });
    const failedModels = new Set<number>();
    const gaveUp: string[] = [];
    for (const { fault, path } of last.values()) {
      if (fault === null) continue;
      gaveUp.push(`${fault} ${path.slice(0, 100)}`);
      const model = modelOf(path);
      assert.notEqual(model, undefined, `the listing itself failed after its retries: ${path}`);
      failedModels.add(model as number);
    }
    const injected = Object.fromEntries(
      PROXY_FAULTS.map((k) => [k, proxy.log.filter((r) => r.fault === k).length]),
    );
    const retries = proxy.log.filter((r) => r.attempt > 0).length;

    let equal = 0;
    const differing: string[] = [];
    const silentlyDegraded: string[] = [];
    for (const [id, rows] of expected) {
      const same = JSON.stringify(got.get(id)) === JSON.stringify(rows);
      if (same) equal++;
      if (!same && !failedModels.has(Number(id))) differing.push(id);
      if (!same && failedModels.has(Number(id))) {
        const before = rows[0] ?? {};
        const now = got.get(id)?.[0] ?? {};
        const changed = Object.keys(before).filter((k) => before[k] !== now[k]);
        process.stdout.write(
          `#   model ${id} differs in ${changed.map((k) => `${k}: ${before[k]} → ${now[k]}`).join('; ')}\n`,
        );
        const record = auditJson(faulty).models.find((m) => String(m.modelId) === id);
        const json = JSON.stringify(record ?? {});
        // "Reported" = the failure is visible in what the user gets for this model.
        if (!/"status":"error"|unavailable|partial|refused|failed/.test(json)) silentlyDegraded.push(id);
      }
    }

    process.stdout.write(
      `# fault run: ${proxy.log.length} requests (fault-free run: ${baselineRequests}), faults injected ${JSON.stringify(injected)}, ` +
        `retries ${retries}, backoff waits ${clock.sleeps.length}, models equal ${equal}/${N}, models failed after retries ${failedModels.size} ` +
        `(${[...failedModels].join(', ') || 'none'}), ${wallMs} ms\n`,
    );
    for (const g of gaveUp.slice(0, 10)) process.stdout.write(`#   gave up: ${g}\n`);

    assert.ok(
      Object.values(injected).reduce((a, b) => a + b, 0) > proxy.log.length * 0.1,
      'faults were really injected',
    );
    assert.deepEqual(
      differing,
      [],
      'models that succeeded have the same metrics.csv rows as the fault-free run',
    );
    assert.deepEqual(silentlyDegraded, [], 'models that failed after retries say so in their record');
    assert.equal(got.size, N, 'no model lost');
  });
});
