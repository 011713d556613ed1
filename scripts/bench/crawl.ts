/**
 * Crawl benchmark: a cold top-N crawl against the local replay server vs the same crawl answered
 * from the cache, and the request count of each (the warm run should need none).
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
  const n = Number(process.env.LORALENS_BENCH_CRAWL_N ?? 50);
  const replay = await startCivitaiReplay({ catalogue: sharedCatalogue(Math.max(120, n * 2)) });
  const dir = mkdtempSync(join(tmpdir(), 'loralens-bench-crawl-'));
  const config = loadConfig({
    CIVITAI_BASE_URL: replay.url,
    LORALENS_STORE_URL: `sqlite://${join(dir, 'cache.sqlite')}`,
    LORALENS_MODELS_DIR: dir,
    CIVITAI_RATE_PER_SECOND: '1000',
    CIVITAI_CONCURRENCY: '8',
  });
  const rows: BenchSection['rows'] = [];
  const times: number[] = [];
  try {
    for (const label of ['cold (network)', 'warm (cache)']) {
      const storage = openStorage(config.storeUrl);
      const svc = createAuditService({ config, storage, logger: silentLogger, analyzers: [] });
      const before = replay.requests.length;
      const t0 = performance.now();
      const collected = await svc.crawl({ kind: 'top', n, from: '2022-01-01', to: '2026-12-31' });
      const ms = performance.now() - t0;
      times.push(ms);
      rows.push({
        run: label,
        models: collected.records.length,
        from_cache: collected.fromCache,
        requests: replay.requests.length - before,
        ms: Math.round(ms),
        models_per_s: Number(((collected.records.length * 1000) / ms).toFixed(1)),
      });
      await svc.close();
      await storage.close();
    }
  } finally {
    await replay.close();
  }
  const ratio = (times[0] ?? 0) / Math.max(1, times[1] ?? 1);
  rows.push({
    run: 'cold / warm',
    models: n,
    from_cache: null,
    requests: null,
    ms: null,
    models_per_s: Number(ratio.toFixed(1)),
  });
  return {
    name: `crawl: top-${n} cold vs cached (local replay server, rate limit lifted)`,
    rows,
    notes: ['Real Civitai adds network latency and its rate limits (CIVITAI_RATE_PER_SECOND, default 5/s).'],
  };
}
