/**
 * One audit (or crawl) of the pipeline bench in a fresh process, as `loralens audit --top N` runs:
 * `node --import tsx scripts/bench/audit-child.ts '<json AuditChildArgs>'` prints one JSON line of
 * {@link AuditChildResult}. The peak RSS is this process's VmHWM (worker threads share the address
 * space, so it covers the CLIP and face workers); the event-loop delay is measured during the audit.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Agent } from 'undici';
import type { ClipAnalyzer } from '../../src/analysis/audit/clip-analyzer.ts';
import { silentLogger } from '../../src/analysis/ports.ts';
import { defaultAnalyzers } from '../../src/app/analyzers.ts';
import { createAuditService } from '../../src/app/create-audit-service.ts';
import { loadConfig } from '../../src/config.ts';
import { openStorage } from '../../src/storage/backend.ts';

export interface AuditChildArgs {
  mode: 'crawl' | 'audit';
  replayUrl: string;
  storeUrl: string;
  modelsDir: string;
  n: number;
}

export interface AuditChildResult {
  /** The audit call itself, ms. */
  ms: number;
  /** From process start to the audit call (Node start-up, imports, store and analyzers set up), ms. */
  startupMs: number;
  loop: { p50: number; p99: number; max: number };
  peakRssBytes: number;
  sessionsOpened: boolean;
  /** Sample images CLIP scored (sum of clip_images_scored): both sides of a comparison do equal work. */
  imagesScored: number;
}

function peakRssBytes(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

const args = JSON.parse(process.argv[2] ?? '{}') as AuditChildArgs;
const config = loadConfig({
  CIVITAI_BASE_URL: args.replayUrl,
  CIVITAI_API_KEY: 'bench-key',
  LORALENS_STORE_URL: args.storeUrl,
  LORALENS_MODELS_DIR: args.modelsDir,
});
const storage = openStorage(config.storeUrl);
const analyzers =
  args.mode === 'crawl'
    ? []
    : defaultAnalyzers({ config, logger: silentLogger, storage, dispatcher: new Agent() });
const svc = createAuditService({ config, storage, logger: silentLogger, analyzers });
const selection = { kind: 'top', n: args.n, from: '2022-01-01', to: '2026-12-31' } as const;
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const t0 = performance.now();
let imagesScored = 0;
if (args.mode === 'crawl') await svc.crawl(selection);
else {
  const result = await svc.audit(selection);
  for (const m of result.document.models) {
    const scored = m.metrics.clip_images_scored;
    if (typeof scored === 'number') imagesScored += scored;
  }
}
const ms = performance.now() - t0;
delay.disable();
const clip = analyzers.find((a) => a.name === 'clip') as ClipAnalyzer | undefined;
const result: AuditChildResult = {
  ms,
  startupMs: t0,
  loop: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
  peakRssBytes: peakRssBytes(),
  sessionsOpened: clip?.sessionsOpened ?? false,
  imagesScored,
};
await svc.close();
await storage.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
