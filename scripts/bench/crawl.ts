/**
 * Crawl benchmark: a cold top-N crawl against the local replay server at the default politeness limit
 * (CIVITAI_RATE_PER_SECOND 5, CIVITAI_CONCURRENCY 4: what a user gets) and with the limit lifted
 * (1000/s, 8 at once: what the code itself costs), then the same crawl answered from the cache.
 * Each row counts the requests by kind: API (rate-limited), file storage (safetensors header reads,
 * their own per-host limiter), image CDN.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../src/analysis/ports.ts';
import { createAuditService } from '../../src/app/create-audit-service.ts';
import { loadConfig } from '../../src/config.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { startCivitaiReplay } from '../../tests/support/civitai-replay.ts';
import { sharedCatalogue } from '../../tests/support/shared-catalogue.ts';
import type { BenchSection } from './types.ts';

export async function run(): Promise<BenchSection> {
  const n = Number(process.env.LORALENS_BENCH_CRAWL_N ?? 20);
  const replay = await startCivitaiReplay({ catalogue: sharedCatalogue(Math.max(120, n * 2)) });
  const rows: BenchSection['rows'] = [];
  const limits = {
    default: {},
    lifted: { CIVITAI_RATE_PER_SECOND: '1000', CIVITAI_CONCURRENCY: '8' },
  } as const;
  try {
    for (const [limit, env] of Object.entries(limits)) {
      const dir = mkdtempSync(join(tmpdir(), 'loralens-bench-crawl-'));
      const config = loadConfig({
        CIVITAI_BASE_URL: replay.url,
        LORALENS_STORE_URL: `sqlite://${join(dir, 'cache.sqlite')}`,
        LORALENS_MODELS_DIR: dir,
        ...env,
      });
      for (const pass of ['cold (network)', 'warm (cache)']) {
        const storage = openStorage(config.storeUrl);
        const svc = createAuditService({ config, storage, logger: silentLogger, analyzers: [] });
        const before = replay.requests.length;
        const t0 = performance.now();
        const collected = await svc.crawl({ kind: 'top', n, from: '2022-01-01', to: '2026-12-31' });
        const ms = performance.now() - t0;
        const made = replay.requests.slice(before);
        const storageReads = made.filter((r) => r.path.startsWith('/storage/')).length;
        const cdn = made.filter((r) => r.path.startsWith('/cdn')).length;
        rows.push({
          run: `${pass}, ${limit === 'default' ? 'default politeness limit (5/s, 4 at once)' : 'limit lifted (1000/s, 8 at once)'}`,
          models: collected.records.length,
          from_cache: collected.fromCache,
          api_requests: made.length - storageReads - cdn,
          storage_requests: storageReads,
          cdn_requests: cdn,
          ms: Math.round(ms),
          models_per_s: Number(((collected.records.length * 1000) / ms).toFixed(2)),
        });
        await svc.close();
        await storage.close();
      }
    }
  } finally {
    await replay.close();
  }
  return {
    name: `crawl: top-${n} cold and cached, at the default politeness limit and lifted (local replay server)`,
    rows,
    notes: [
      'Single runs: the default-limit row is bounded by the API rate (requests ÷ 5/s), not by this machine.',
      'Real Civitai adds network latency; storage reads (one Range request per file header) and image downloads have their own per-host limiters.',
    ],
  };
}
