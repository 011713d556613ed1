/**
 * Pipeline benchmark (issue #16 items 1 and 5, issue #12 "one pass"):
 * (a) the one image pass (download + decode once, every extractor on that decode) per image vs the sum
 *     of the same stages run as separate passes (each downloads and decodes again), on real images;
 * (b) a cold top-N audit vs max(crawl-only at the default politeness limit, CLIP-only): the stages
 *     overlap when the first is close to the larger of the other two, not their sum;
 * (c) a warm top-N audit (every record, feature and embedding cached) and whether it opened an ONNX session.
 * Every timed row gives min/median/max over LORALENS_BENCH_PIPELINE_RUNS runs (default 3).
 * LORALENS_BENCH_PIPELINE_N sets N (default 10; the issue's goal is stated at N = 200).
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { Agent } from 'undici';
import { z } from 'zod';
import type { Analyzer } from '../../src/analysis/audit/analyzer.ts';
import type { ClipAnalyzer } from '../../src/analysis/audit/clip-analyzer.ts';
import { clipTensor } from '../../src/analysis/images/clip-preprocess.ts';
import type { DecodedImage } from '../../src/analysis/images/decode.ts';
import type { SampleImageRef } from '../../src/analysis/images/features.ts';
import { createImageFetcher } from '../../src/analysis/images/fetch.ts';
import { type PassExtractor, runImagePass } from '../../src/analysis/images/pass.ts';
import { silentLogger } from '../../src/analysis/ports.ts';
import { defaultAnalyzers } from '../../src/app/analyzers.ts';
import { createAuditService } from '../../src/app/create-audit-service.ts';
import { loadConfig } from '../../src/config.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { startCivitaiReplay } from '../../tests/support/civitai-replay.ts';
import { SHARED_DIR, sharedCatalogue } from '../../tests/support/shared-catalogue.ts';
import { ensureSurrogateClipModels } from '../make-surrogate-models.ts';
import type { BenchSection } from './types.ts';

const RUNS = Math.max(1, Number(process.env.LORALENS_BENCH_PIPELINE_RUNS ?? 3));
const N = Math.max(1, Number(process.env.LORALENS_BENCH_PIPELINE_N ?? 10));

function spread(values: number[]): { min: number; median: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length / 2;
  const median = s.length % 2 ? s[Math.floor(mid)]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]! };
}

const r1 = (x: number): number => Number(x.toFixed(1));
const r2 = (x: number): number => Number(x.toFixed(2));

// Stand-ins of realistic cost for the per-image analyses that share the decode (the bias analyzers
// plug in the same way): CLIP's 224² tensor, a saturation-weighted hue histogram, a luminance summary.
const EXTRACTORS: PassExtractor[] = [
  { name: 'clip-tensor', version: '1', schema: z.number(), extract: (im) => clipTensor(im).length },
  {
    name: 'hue-histogram',
    version: '1',
    schema: z.array(z.number()),
    extract(im: DecodedImage) {
      const bins = new Array<number>(36).fill(0);
      const d = im.data;
      for (let i = 0; i < d.length; i += im.channels) {
        const r = d[i]! / 255;
        const g = d[i + 1]! / 255;
        const b = d[i + 2]! / 255;
        const max = Math.max(r, g, b);
        const c = max - Math.min(r, g, b);
        if (c === 0) continue;
        let h = max === r ? ((g - b) / c) % 6 : max === g ? (b - r) / c + 2 : (r - g) / c + 4;
        if (h < 0) h += 6;
        bins[Math.min(35, Math.floor(h * 6))]! += c / max;
      }
      return bins;
    },
  },
  {
    name: 'luma',
    version: '1',
    schema: z.array(z.number()),
    extract(im: DecodedImage) {
      let sum = 0;
      let sq = 0;
      const d = im.data;
      for (let i = 0; i < d.length; i += im.channels) {
        const y = 0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!;
        sum += y;
        sq += y * y;
      }
      const n = im.width * im.height;
      return [sum / n, Math.sqrt(Math.max(0, sq / n - (sum / n) ** 2))];
    },
  },
];

async function serveJpegs(bodies: Buffer[]): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const m = /^\/img\/(\d+)\.jpeg/.exec(req.url ?? '');
    const body = m ? bodies[Number(m[1]) % bodies.length] : undefined;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** (a) One pass with every extractor vs one pass per extractor (decode per analysis). */
async function onePassVsStages(rows: BenchSection['rows'], notes: string[]): Promise<void> {
  const dir = resolve(SHARED_DIR, 'fixtures', 'images');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort();
  // Real SD generations, served as 512-px-wide JPEGs like Civitai's CDN renditions.
  const bodies = await Promise.all(
    files.map((f) => sharp(join(dir, f)).resize({ width: 512 }).jpeg({ quality: 90 }).toBuffer()),
  );
  const { server, origin } = await serveJpegs(bodies);
  const agent = new Agent({ connections: 8 });
  const fetcher = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin], cdnWidth: null });
  const refs: SampleImageRef[] = bodies.map((_, i) => ({
    key: `1:${i}`,
    modelId: 1,
    versionId: 1,
    imageId: i,
    url: `${origin}/img/${i}.jpeg`,
    prompt: null,
    width: null,
    height: null,
  }));
  try {
    const one: number[] = [];
    const separate: number[] = [];
    for (let run = 0; run < RUNS + 1; run++) {
      let t0 = performance.now();
      await runImagePass({ fetcher, extractors: EXTRACTORS }, refs);
      const onePass = (performance.now() - t0) / refs.length;
      let sum = 0;
      for (const e of EXTRACTORS) {
        t0 = performance.now();
        await runImagePass({ fetcher, extractors: [e] }, refs);
        sum += (performance.now() - t0) / refs.length;
      }
      if (run === 0) continue; // warm-up (JIT, sharp's thread pool)
      one.push(onePass);
      separate.push(sum);
    }
    const a = spread(one);
    const b = spread(separate);
    rows.push({
      row: `(a) one pass, ${EXTRACTORS.length} extractors, ms/image`,
      min: r2(a.min),
      median: r2(a.median),
      max: r2(a.max),
      note: `${refs.length} real images`,
    });
    rows.push({
      row: '(a) separate passes (decode per analysis), ms/image',
      min: r2(b.min),
      median: r2(b.median),
      max: r2(b.max),
      note: `one pass saves ${r1((1 - a.median / b.median) * 100)} %`,
    });
  } finally {
    server.close();
    await agent.close();
  }
  notes.push(
    '(a) extractors: CLIP 224² tensor, saturation-weighted hue histogram (36 bins), luminance mean/std; no cache.',
  );
}

/** (b) cold top-N vs max(crawl-only, CLIP-only) and (c) warm top-N. */
async function auditOverlap(rows: BenchSection['rows'], notes: string[]): Promise<void> {
  const models = await ensureSurrogateClipModels();
  const replay = await startCivitaiReplay({ catalogue: sharedCatalogue(Math.max(120, N * 2)) });
  const base = mkdtempSync(join(tmpdir(), 'loralens-bench-pipeline-'));
  const selection = { kind: 'top', n: N, from: '2022-01-01', to: '2026-12-31' } as const;
  let run = 0;
  const env = (store: string) =>
    loadConfig({
      CIVITAI_BASE_URL: replay.url,
      CIVITAI_API_KEY: 'bench-key',
      LORALENS_STORE_URL: store,
      LORALENS_MODELS_DIR: models.dir,
    });
  const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const v = await fn();
    return [v, performance.now() - t0];
  };
  const service = (store: string, analyzers?: readonly Analyzer[]) => {
    const config = env(store);
    const storage = openStorage(config.storeUrl);
    const analyzerList =
      analyzers ?? defaultAnalyzers({ config, logger: silentLogger, storage, dispatcher: new Agent() });
    const svc = createAuditService({ config, storage, logger: silentLogger, analyzers: analyzerList });
    const clip = analyzerList.find((a) => a.name === 'clip') as ClipAnalyzer | undefined;
    return {
      svc,
      clip,
      close: async () => {
        await svc.close();
        await storage.close();
      },
    };
  };
  const crawlOnly: number[] = [];
  const clipOnly: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  const warmSessions: boolean[] = [];
  try {
    // Warm-up (not timed): the first audit of a process pays for reading the towers from disk and JIT.
    const warmUp = service(`sqlite://${join(base, 'warm-up.sqlite')}`);
    await warmUp.svc.audit({ ...selection, n: 1 });
    await warmUp.close();
    for (let i = 0; i < RUNS; i++) {
      // Crawl only (default politeness limit, no analyses), into a store the CLIP-only run reuses.
      const store = `sqlite://${join(base, `run-${run++}.sqlite`)}`;
      const c = service(store, []);
      const [, crawlMs] = await timed(() => c.svc.crawl(selection));
      await c.close();
      crawlOnly.push(crawlMs);
      // CLIP only: every record is cached, no image feature or embedding is.
      const k = service(store);
      const [, clipMs] = await timed(() => k.svc.audit(selection));
      await k.close();
      clipOnly.push(clipMs);
      // Cold: a fresh store, everything from the network, the stages streamed.
      const coldStore = `sqlite://${join(base, `run-${run++}.sqlite`)}`;
      const s = service(coldStore);
      const [, coldMs] = await timed(() => s.svc.audit(selection));
      await s.close();
      cold.push(coldMs);
      // Warm: the same store again, with new analyzers (no session opened yet).
      const w = service(coldStore);
      const [, warmMs] = await timed(() => w.svc.audit(selection));
      warmSessions.push(w.clip?.sessionsOpen ?? false);
      await w.close();
      warm.push(warmMs);
    }
  } finally {
    await replay.close();
  }
  const push = (row: string, values: number[], note: string) => {
    const s = spread(values);
    rows.push({ row, min: r1(s.min / 1000), median: r1(s.median / 1000), max: r1(s.max / 1000), note });
  };
  push(`(b) crawl only, top-${N}, s`, crawlOnly, 'default politeness limit (CIVITAI_RATE_PER_SECOND=5)');
  push(`(b) CLIP only, top-${N}, s`, clipOnly, 'records cached; images, features and embeddings cold');
  push(`(b) cold audit, top-${N}, s`, cold, 'crawl, image pass and CLIP streamed');
  const ratio = cold.map((t, i) => t / Math.max(crawlOnly[i]!, clipOnly[i]!));
  const rs = spread(ratio);
  rows.push({
    row: '(b) cold ÷ max(crawl only, CLIP only)',
    min: r2(rs.min),
    median: r2(rs.median),
    max: r2(rs.max),
    note: 'goal ≤ 1.15 at N = 200 (the sum of the stages would be ≈ 1 + min/max)',
  });
  push(
    `(c) warm audit, top-${N}, s`,
    warm,
    `ONNX session opened: ${warmSessions.some(Boolean) ? 'yes' : 'no'}`,
  );
  notes.push(
    `(b)/(c) local replay server (synthetic 96×128 PNG sample images), surrogate CLIP towers (${models.dir}).`,
  );
}

export async function run(): Promise<BenchSection> {
  const rows: BenchSection['rows'] = [];
  const notes: string[] = [`${RUNS} run(s) per row; min/median/max.`];
  await onePassVsStages(rows, notes);
  if (process.env.LORALENS_BENCH_PIPELINE_SKIP_AUDIT !== '1') await auditOverlap(rows, notes);
  return { name: `pipeline: one image pass, streamed stages, warm runs (N=${N})`, rows, notes };
}
