/**
 * Pipeline benchmark (issue #16 items 1 and 5, issue #12 "one pass"):
 * (a) the one image pass (download + decode once, every extractor on that decode) per image vs the sum
 *     of the same stages run as separate passes (each downloads and decodes again), on real images;
 * (b) a cold top-N audit vs max(crawl-only at the default politeness limit, CLIP-only): the stages
 *     overlap when the first is close to the larger of the other two, not their sum; the event-loop
 *     delay (p50/p99/max) and the peak RSS during the cold audit;
 * (c) a warm top-N audit (every record, feature and embedding cached) and whether it opened an ONNX session.
 * The issue's goals print as GOAL rows with both sides, the ratio and met (they are stated at N = 200:
 * `LORALENS_BENCH_PIPELINE_N=200 LORALENS_BENCH_PIPELINE_RUNS=1 npm run bench pipeline`).
 * Every timed row gives min/median/max over LORALENS_BENCH_PIPELINE_RUNS runs (default 3).
 * LORALENS_BENCH_PIPELINE_N sets N (default 10). The machine's load at start and end is in the notes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Agent } from 'undici';
import { z } from 'zod';
import { clipTensor } from '../../src/analysis/images/clip-preprocess.ts';
import type { DecodedImage } from '../../src/analysis/images/decode.ts';
import type { SampleImageRef } from '../../src/analysis/images/features.ts';
import { createImageFetcher } from '../../src/analysis/images/fetch.ts';
import { type PassExtractor, runImagePass } from '../../src/analysis/images/pass.ts';
import { startModuleWorker } from '../../src/analysis/workers/start.ts';
import { SHARED_DIR } from '../../tests/support/shared-catalogue.ts';
import { ensureSurrogateClipModels } from '../make-surrogate-models.ts';
import type { AuditChildArgs, AuditChildResult } from './audit-child.ts';
import { loadNote } from './load.ts';
import type { ReplayWorkerData } from './replay-worker.ts';
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

/** The replay in a worker thread (see replay-worker.ts); resolves once it listens. */
async function startReplayWorker(data: ReplayWorkerData): Promise<{ url: string; close(): Promise<void> }> {
  const worker = startModuleWorker(new URL('./replay-worker.ts', import.meta.url), data);
  const url = await new Promise<string>((resolveUrl, reject) => {
    worker.once('message', (m: { url: string }) => resolveUrl(m.url));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`replay worker exited (${code}) before listening`)));
  });
  return {
    url,
    close: async () => {
      const exited = new Promise<void>((r) => worker.once('exit', () => r()));
      worker.postMessage('close');
      await exited;
    },
  };
}

interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** One crawl or audit in a fresh process (audit-child.ts), as the CLI runs it. */
function auditChild(args: AuditChildArgs): Promise<AuditChildResult> {
  return new Promise((resolveResult, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./audit-child.ts', import.meta.url)), JSON.stringify(args)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`audit child (${args.mode}) exited with ${code}`));
      resolveResult(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as AuditChildResult);
    });
  });
}

const goalNote = N === 200 ? 'the issue’s goal' : 'goal stated at N = 200';

/**
 * (b) cold top-N vs max(crawl-only, CLIP-only) and (c) warm top-N, with the N = 200 goals. Every
 * crawl and audit runs in a fresh process, as `loralens audit` does (session start-up included on
 * both sides), so its peak RSS and event-loop delay are its own.
 */
async function auditOverlap(rows: BenchSection['rows'], notes: string[]): Promise<void> {
  const models = await ensureSurrogateClipModels();
  const realImages = process.env.LORALENS_BENCH_PIPELINE_IMAGES !== 'synthetic';
  const replay = await startReplayWorker({ models: Math.max(120, N * 2), realImages });
  const base = mkdtempSync(join(tmpdir(), 'loralens-bench-pipeline-'));
  let run = 0;
  const child = (mode: AuditChildArgs['mode'], storeUrl: string, n = N) =>
    auditChild({ mode, replayUrl: replay.url, storeUrl, modelsDir: models.dir, n });
  const crawlOnly: number[] = [];
  const clipOnly: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  const warmStartup: number[] = [];
  const warmSessions: boolean[] = [];
  const loops: LoopDelay[] = [];
  const scored = { clipOnly: [] as number[], cold: [] as number[] };
  const peaks: number[] = [];
  try {
    // Warm-up (not timed): reads the towers into the page cache.
    await child('audit', `sqlite://${join(base, 'warm-up.sqlite')}`, 1);
    for (let i = 0; i < RUNS; i++) {
      // Crawl only (default politeness limit, no analyses), into a store the CLIP-only run reuses.
      const store = `sqlite://${join(base, `run-${run++}.sqlite`)}`;
      crawlOnly.push((await child('crawl', store)).ms);
      // CLIP only: every record is cached, no image feature or embedding is.
      const k = await child('audit', store);
      clipOnly.push(k.ms);
      scored.clipOnly.push(k.imagesScored);
      // Cold: a fresh store, everything from the network, the stages streamed.
      const coldStore = `sqlite://${join(base, `run-${run++}.sqlite`)}`;
      const c = await child('audit', coldStore);
      cold.push(c.ms);
      scored.cold.push(c.imagesScored);
      loops.push(c.loop);
      peaks.push(c.peakRssBytes);
      // Warm: the same store again (no session opened yet).
      const w = await child('audit', coldStore);
      warm.push(w.ms);
      warmStartup.push(w.startupMs);
      warmSessions.push(w.sessionsOpened);
    }
  } finally {
    await replay.close();
    // The stores are the bench's own (about 56 MB each at N = 200): nothing is kept.
    rmSync(base, { recursive: true, force: true });
  }
  const push = (row: string, values: number[], note: string, digits = 1, scale = 1 / 1000) => {
    const s = spread(values.map((v) => v * scale));
    const r = (x: number): number => Number(x.toFixed(digits));
    rows.push({ row, min: r(s.min), median: r(s.median), max: r(s.max), note });
  };
  const goal = (row: string, value: number, target: string, met: boolean, note: string) =>
    rows.push({ row, median: value, goal: target, met, note });
  push(`(b) crawl only, top-${N}, s`, crawlOnly, 'default politeness limit (CIVITAI_RATE_PER_SECOND=5)');
  push(
    `(b) CLIP only, top-${N}, s`,
    clipOnly,
    `records cached; images, features and embeddings cold; ${scored.clipOnly.join('/')} images scored`,
  );
  push(
    `(b) cold audit, top-${N}, s`,
    cold,
    `crawl, image pass and CLIP streamed; ${scored.cold.join('/')} images scored`,
  );
  const bound = cold.map((_, i) => Math.max(crawlOnly[i]!, clipOnly[i]!));
  push('(b) max(crawl only, CLIP only), s', bound, 'per run, the larger of the two');
  const ratio = cold.map((t, i) => t / bound[i]!);
  const rs = spread(ratio);
  goal(
    '(b) GOAL cold ÷ max(crawl only, CLIP only)',
    r2(rs.median),
    '<= 1.15',
    rs.median <= 1.15,
    `${r1(spread(cold).median / 1000)} s ÷ ${r1(spread(bound).median / 1000)} s (medians; ratio min ${r2(rs.min)}, max ${r2(rs.max)}); the sum of the stages would be ≈ 1 + min/max; ${goalNote}`,
  );
  push(
    '(b) event-loop p50 during the cold audit, ms',
    loops.map((l) => l.p50),
    'perf_hooks histogram, 10 ms resolution',
    1,
    1,
  );
  push(
    '(b) event-loop p99 during the cold audit, ms',
    loops.map((l) => l.p99),
    'CLI and bot run this service',
    1,
    1,
  );
  push(
    '(b) event-loop max during the cold audit, ms',
    loops.map((l) => l.max),
    'one-off stretches (analysis, session start)',
    1,
    1,
  );
  const p99 = spread(loops.map((l) => l.p99)).median;
  goal(
    '(b) GOAL event-loop p99 during the cold audit, ms',
    r1(p99),
    '< 50',
    p99 < 50,
    `median of ${loops.length} run(s)`,
  );
  const peakGiB = Math.max(...peaks) / 1024 ** 3;
  goal(
    `(b) GOAL peak RSS of the cold audit, top-${N}, GiB`,
    Number(peakGiB.toFixed(3)),
    '< 1.5',
    peakGiB < 1.5,
    `VmHWM of the audit's process (worker threads included); largest of ${peaks.length} run(s); ${goalNote}`,
  );
  push(
    `(c) warm audit, top-${N}, s`,
    warm,
    `the audit call in a fresh process (start-up: next row); ONNX session opened: ${warmSessions.some(Boolean) ? 'yes' : 'no'}`,
  );
  push(
    `(c) warm audit: process start to the audit call, s`,
    warmStartup,
    'Node start-up, imports (through tsx here; the built CLI loads compiled JS), store and analyzers set up',
  );
  const warmMedian = spread(warm).median / 1000;
  const noSession = !warmSessions.some(Boolean);
  goal(
    `(c) GOAL warm top-${N} ≤ 3 s, no ONNX session`,
    r1(warmMedian),
    '<= 3 s, no session',
    warmMedian <= 3 && noSession,
    `${r1(warmMedian)} s median; session opened: ${noSession ? 'no' : 'yes'}; ${goalNote}`,
  );
  notes.push(
    `(b)/(c) every crawl and audit in a fresh process (audit-child.ts); local Civitai replay in a worker thread of the bench process, sample images ${realImages ? 'the shared fixtures as 512-px JPEGs (LORALENS_BENCH_PIPELINE_IMAGES=synthetic: 96×128 PNGs)' : 'synthetic 96×128 PNGs'}; surrogate CLIP towers (${models.dir}); default analyzers (faces and composition included, as CLI and bot run them).`,
  );
}

export async function run(): Promise<BenchSection> {
  const rows: BenchSection['rows'] = [];
  const notes: string[] = [`${RUNS} run(s) per row; min/median/max.`, `at start: ${loadNote()}`];
  await onePassVsStages(rows, notes);
  if (process.env.LORALENS_BENCH_PIPELINE_SKIP_AUDIT !== '1') await auditOverlap(rows, notes);
  notes.push(`at end: ${loadNote()}`);
  return { name: `pipeline: one image pass, streamed stages, warm runs (N=${N})`, rows, notes };
}
