/**
 * CLIP image-audit benchmark (`npm run bench clip`, or `tsx scripts/bench/clip.ts` alone). Every timed
 * row is 3 runs of the same work, printed as min/median/max; ratios use the medians.
 * 1. MatMul FLOP probe: what this CPU computes with onnxruntime (GFLOP/s): run in a worker with the
 *    towers' session options, right before and right after the CLIP stage (workers), 7 measurements
 *    each; the best of all 14 is the ceiling, and the stage's best must stay below it. Every timed run
 *    whose efficiency is reported (bare towers, the stage) is also paired with a short probe measured
 *    right before it, and its fraction is taken against that one (the machine's speed drifts).
 * 2. Bare vision `session.run` per batch size; the batch size with the best median is used below.
 * 3. Text batch size (8/16/32 windows, best median at real length) and shorter text windows: bare text
 *    `session.run` at 77 tokens vs at each batch's longest real length.
 * 4. The CLIP stage with the audit's prompt mix (one distinct prompt per image, ≈ 2 windows each):
 *    images/s, achieved GFLOP/s (counted MACs × 2 / time) and its fraction of the probe (goal ≥ 0.85).
 * 5. Event-loop delay (p50/p99/max) during that stage, sessions in worker threads vs on the main thread.
 * 6. Pipeline vs a one-image-at-a-time loop doing equal work (both encode each distinct prompt once),
 *    and the gain of that prompt dedup as its own row (the loop with and without it); runs interleaved,
 *    with the share of each wall time spent in session.run and bare batched inference on pre-decoded
 *    tensors as the pipeline's bound.
 * 7. Peak RSS of an audit in a child process (goal < 1.5 GiB).
 * The notes give the machine's 1-min load at the start and the end (LOADED when above the cores).
 * Images come from a 127.0.0.1 server (the shared fixture images re-encoded as 512-px JPEGs, like the
 * Civitai CDN's width=512). Real CLIP weights are used when assets/models has them, cost surrogates
 * otherwise (LORALENS_BENCH_CLIP_MODELS=tiny: the tiny test models).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { Agent } from 'undici';
import { type ImageAuditInput, scoreImagePrompts } from '../../src/analysis/clip/image-audit.ts';
import {
  CLIP_MODEL_FILES,
  CLIP_VOCAB_FILE,
  type ClipScorer,
  type ClipScorerOptions,
  clipSessionOptions,
  createClipScorer,
  textSequenceLength,
} from '../../src/analysis/clip/scorer.ts';
import { type ClipTokenizer, loadClipTokenizer } from '../../src/analysis/clip/tokenizer.ts';
import { openWorkerSession } from '../../src/analysis/clip/tower-session.ts';
import { CLIP_TENSOR_LENGTH, clipTensor } from '../../src/analysis/images/clip-preprocess.ts';
import { decodeImage } from '../../src/analysis/images/decode.ts';
import { createImageFetcher } from '../../src/analysis/images/fetch.ts';
import { cleanPrompt } from '../../src/analysis/text/prompt-clean.ts';
import {
  ensureSurrogateClipModels,
  matmulProbeMacs,
  matmulProbeModel,
  textWindowMacs,
  visionImageMacs,
} from '../make-surrogate-models.ts';
import { ensureTinyClipModels } from '../make-tiny-models.ts';
import { loadNote } from './load.ts';
import type { BenchSection } from './types.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const shared = resolve(repoRoot, '..', 'shared');
const assetsDir = resolve(repoRoot, 'assets', 'models');

interface ModelChoice {
  dir: string;
  vocab: string;
  kind: 'real' | 'surrogate' | 'tiny';
}

/**
 * Real weights when assets/models has them; otherwise cost surrogates (random weights, ViT-B/32-like
 * work per item) unless LORALENS_BENCH_CLIP_MODELS=tiny asks for the tiny test models.
 */
async function chooseModels(): Promise<ModelChoice> {
  const f = CLIP_MODEL_FILES.fp32;
  const vocabInAssets = join(assetsDir, CLIP_VOCAB_FILE);
  const vocab = existsSync(vocabInAssets)
    ? vocabInAssets
    : resolve(shared, 'models', 'clip-tokenizer', CLIP_VOCAB_FILE);
  if (existsSync(join(assetsDir, f.vision)) && existsSync(join(assetsDir, f.text))) {
    return { dir: assetsDir, vocab, kind: 'real' };
  }
  if (process.env.LORALENS_BENCH_CLIP_MODELS === 'tiny') {
    const tiny = await ensureTinyClipModels();
    return { dir: tiny.dir, vocab, kind: 'tiny' };
  }
  const surrogate = await ensureSurrogateClipModels();
  return { dir: surrogate.dir, vocab, kind: 'surrogate' };
}

const MODEL_NOTES: Record<ModelChoice['kind'], string> = {
  real: 'real CLIP ViT-B/32 fp32 weights',
  surrogate:
    'SURROGATE CLIP ViT-B/32 towers (assets/models has no real weights): random weights, the real architecture (attention, LayerNorm, quick-GELU, causal text tower; ≈4.41 GMAC per image, ≈2.98 GMAC per 77-token window, ≈0.6 GB); throughput predicts the real model, embeddings are meaningless',
  tiny: 'TINY random CLIP-shaped models: inference is almost free, so ratios measure only download/decode/preprocess overhead',
};

interface Fixture {
  jpeg: Buffer;
  prompt: string;
}

async function loadFixtures(): Promise<Fixture[]> {
  const dir = resolve(shared, 'fixtures', 'images');
  const prompts = new Map<string, string>();
  for (const line of readFileSync(join(dir, 'index.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line) as { file: string; prompt: string };
    prompts.set(rec.file, rec.prompt);
  }
  const out: Fixture[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()) {
    const prompt = prompts.get(file) ?? '';
    if (cleanPrompt(prompt).text.trim() === '') continue;
    const jpeg = await sharp(join(dir, file)).resize({ width: 512 }).jpeg({ quality: 90 }).toBuffer();
    out.push({ jpeg, prompt });
  }
  return out;
}

async function serveFixtures(fixtures: Fixture[]): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const m = /^\/img\/(\d+)\.jpeg/.exec(req.url ?? '');
    const fx = m ? fixtures[Number(m[1]) % fixtures.length] : undefined;
    if (!fx) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': fx.jpeg.length });
    res.end(fx.jpeg);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function inputsFor(origin: string, fixtures: Fixture[], n: number): ImageAuditInput[] {
  return Array.from({ length: n }, (_, i) => ({
    modelId: 1 + (i % 4),
    versionId: 10 + (i % 4),
    imageId: i,
    url: `${origin}/img/${i}.jpeg`,
    prompt: fixtures[i % fixtures.length]!.prompt,
  }));
}

const RUNS = 3;

/** min/median/max of `RUNS` measurements. */
function spread(values: number[], digits = 1): { min: number; median: number; max: number } {
  const v = [...values].sort((a, b) => a - b);
  const round = (x: number): number => Number(x.toFixed(digits));
  return { min: round(v[0]!), median: round(v[Math.floor(v.length / 2)]!), max: round(v.at(-1)!) };
}

/** `RUNS` measurements; `before` runs ahead of each one, untimed (the paired probe). */
async function repeat(fn: () => Promise<number>, before?: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await before?.();
    out.push(await fn());
  }
  return out;
}

/**
 * The loop baseline: per image, download, decode, preprocess, encode its prompt (once per distinct
 * prompt when `dedup`, as the pipeline does) and the image, one after another, batch size 1.
 */
async function oneAtATime(
  images: ImageAuditInput[],
  scorer: ClipScorer,
  agent: Agent,
  origin: string,
  dedup: boolean,
): Promise<number> {
  const fetcher = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin] });
  const memo = new Set<string>();
  let scored = 0;
  for (const img of images) {
    const got = await fetcher.fetch(img.url);
    if (!got.ok) continue;
    const decoded = await decodeImage(got.bytes);
    if (!decoded.ok) continue;
    const prompt = cleanPrompt(img.prompt ?? '').text;
    if (!dedup || !memo.has(prompt)) {
      memo.add(prompt);
      await scorer.embedTexts([prompt]);
    }
    const [emb] = await scorer.embedImages([clipTensor(decoded)]);
    if (emb) scored += 1;
  }
  return scored;
}

/** A bare onnxruntime session on this thread with the scorer's settings, for the baselines. */
function openSession(path: string, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, clipSessionOptions(threads));
}

/** Images/s of bare vision `session.run` over pre-built batches (one warm-up run first). */
async function bareVisionIps(
  modelDir: string,
  tensors: Float32Array[],
  batch: number,
  threads: number,
  before?: () => Promise<unknown>,
): Promise<number[]> {
  const session = await openSession(join(modelDir, CLIP_MODEL_FILES.fp32.vision), threads);
  try {
    const batches: ort.Tensor[] = [];
    for (let s = 0; s < tensors.length; s += batch) {
      const chunk = tensors.slice(s, s + batch);
      const data = new Float32Array(chunk.length * CLIP_TENSOR_LENGTH);
      for (const [i, t] of chunk.entries()) data.set(t, i * CLIP_TENSOR_LENGTH);
      batches.push(new ort.Tensor('float32', data, [chunk.length, 3, 224, 224]));
    }
    await session.run({ pixel_values: batches[0]! });
    return await repeat(async () => {
      const t0 = performance.now();
      for (const b of batches) await session.run({ pixel_values: b });
      return tensors.length / ((performance.now() - t0) / 1000);
    }, before);
  } finally {
    await session.release();
  }
}

/**
 * Seconds of bare text `session.run` over the token rows, batched like the scorer: at 77 tokens, or
 * sorted by length and run at each batch's longest real length (`short`).
 */
async function bareTextSeconds(
  modelDir: string,
  rows: number[][],
  batch: number,
  threads: number,
  short: boolean,
  before?: () => Promise<unknown>,
): Promise<number[]> {
  const session = await openSession(join(modelDir, CLIP_MODEL_FILES.fp32.text), threads);
  try {
    const ordered = short ? [...rows].sort((a, b) => textSequenceLength(a) - textSequenceLength(b)) : rows;
    const feeds: Array<Record<string, ort.Tensor>> = [];
    for (let s = 0; s < ordered.length; s += batch) {
      const chunk = ordered.slice(s, s + batch);
      const seq = short ? Math.max(...chunk.map(textSequenceLength)) : 77;
      const data = BigInt64Array.from(
        chunk.flatMap((r) => r.slice(0, seq)),
        (v) => BigInt(v),
      );
      const ids = new ort.Tensor('int64', data, [chunk.length, seq]);
      feeds.push(
        session.inputNames.includes('attention_mask')
          ? {
              input_ids: ids,
              attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.size).fill(1n), ids.dims),
            }
          : { input_ids: ids },
      );
    }
    await session.run(feeds[0]!);
    return await repeat(async () => {
      const t0 = performance.now();
      for (const f of feeds) await session.run(f);
      return (performance.now() - t0) / 1000;
    }, before);
  } finally {
    await session.release();
  }
}

const PROBE_REPEATS = 7;

/** The MatMul probe's session, opened once: measured before and after the stage and before each paired run. */
interface Probe {
  /** GFLOP/s of `repeats` measurements of 4 runs each. */
  gflops(repeats?: number): Promise<number[]>;
  /** The best of 2 short measurements, taken right before the timed run it is paired with. */
  local(): Promise<number>;
  release(): Promise<void>;
}

/**
 * GFLOP/s of the MatMul probe (8 × [tokens,768]×[768,3072] and back, batches of 8 × 50 tokens), as a
 * ceiling for the CLIP stage: the same session options and thread as the CLIP towers (a worker thread
 * at the towers' priority, `clipSessionOptions(threads)`), timed inside the worker (`session.run` only,
 * no message passing), one warm-up run, then measurements of 4 runs each. The best of
 * {@link PROBE_REPEATS} right before and after the stage is the bench's ceiling; the spread shows how
 * steady the machine was. This machine's speed drifts by ±10 % within minutes (a shared VM), so each
 * timed run whose efficiency is reported is also paired with a short probe measured right before it.
 */
async function openProbe(path: string, threads: number): Promise<Probe> {
  const session = await openWorkerSession(path, clipSessionOptions(threads) as Record<string, unknown>);
  const rows = 50;
  const batch = 8;
  // Feeds are transferred to the worker: a fresh buffer per run.
  const feed = () => ({
    x: {
      type: 'float32' as const,
      data: new Float32Array(batch * rows * 768).fill(0.01),
      dims: [batch, rows, 768],
    },
  });
  await session.run(feed(), ['y']);
  const gflops = async (repeats = PROBE_REPEATS): Promise<number[]> => {
    const out: number[] = [];
    for (let k = 0; k < repeats; k++) {
      const reps = 4;
      let ms = 0;
      for (let i = 0; i < reps; i++) ms += (await session.run(feed(), ['y'])).ms;
      out.push((2 * reps * matmulProbeMacs(batch * rows)) / (ms / 1000) / 1e9);
    }
    return out;
  };
  return {
    gflops,
    local: async () => Math.max(...(await gflops(2))),
    release: () => session.release(),
  };
}

/**
 * The audit's prompt mix: one distinct prompt per image, built from the fixture prompts until it
 * fills about two 77-token windows (real Stable Diffusion prompts are long); distinct by a suffix.
 */
function auditMixPrompts(fixtures: Fixture[], tokenizer: ClipTokenizer, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    let prompt = `image ${i}`;
    for (let k = 0; tokenizer.windows(prompt).length < 2 || k === 0; k++) {
      prompt = `${prompt}, ${fixtures[(i + k) % fixtures.length]!.prompt}`;
      if (k > fixtures.length) break;
    }
    return prompt;
  });
}

/** Counted multiply-accumulates of encoding these images and prompt windows (at their real lengths). */
function clipStageMacs(images: number, prompts: string[], tokenizer: ClipTokenizer): number {
  let macs = images * visionImageMacs();
  for (const p of prompts) {
    for (const w of tokenizer.windows(cleanPrompt(p).text)) macs += textWindowMacs(textSequenceLength(w.ids));
  }
  return macs;
}

/**
 * This process's peak RSS. Linux keeps getrusage's ru_maxrss across fork+exec, so a child spawned by a
 * large parent would report the parent's size; VmHWM belongs to the new address space only.
 */
function peakRssKiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // Not Linux: fall through.
  }
  return process.resourceUsage().maxRSS;
}

async function rssChild(args: {
  origin: string;
  n: number;
  modelDir: string;
  vocab: string;
  batch: number;
}): Promise<void> {
  const fixtures = await loadFixtures();
  const agent = new Agent({ connections: 8 });
  const scorer = await createClipScorer({
    modelDir: args.modelDir,
    vocabPath: args.vocab,
    batchSize: args.batch,
  });
  const fetcher = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [args.origin] });
  const t0 = performance.now();
  const r = await scoreImagePrompts({
    images: inputsFor(args.origin, fixtures, args.n),
    scorer,
    fetcher,
    options: { batchSize: args.batch, concurrency: 4 },
  });
  const seconds = (performance.now() - t0) / 1000;
  await scorer.dispose();
  await agent.close();
  const scored = r.images.filter((x) => x.skipped === null).length;
  process.stdout.write(`${JSON.stringify({ maxRssKiB: peakRssKiB(), scored, seconds })}\n`);
}

function runChild(
  args: Record<string, unknown>,
): Promise<{ maxRssKiB: number; scored: number; seconds: number }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--rss-child', JSON.stringify(args)],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) reject(new Error(`RSS child exited with ${code}`));
      else resolvePromise(JSON.parse(last) as { maxRssKiB: number; scored: number; seconds: number });
    });
  });
}

/** Scored images/s of `scoreImagePrompts` over `images`, plus the event-loop delay while it ran. */
async function pipelineRun(
  images: ImageAuditInput[],
  scorer: ClipScorer,
  agent: Agent,
  origin: string,
  batch: number,
): Promise<{ ips: number; p50: number; p99: number; max: number }> {
  const fetcher = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin] });
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const t0 = performance.now();
  const r = await scoreImagePrompts({
    images,
    scorer,
    fetcher,
    options: { batchSize: batch, concurrency: 4 },
  });
  const seconds = (performance.now() - t0) / 1000;
  delay.disable();
  const ms = (ns: number): number => ns / 1e6;
  return {
    ips: r.images.filter((x) => x.skipped === null).length / seconds,
    p50: ms(delay.percentile(50)),
    p99: ms(delay.percentile(99)),
    max: ms(delay.max),
  };
}

/** The CLIP section of `npm run bench`. */
export async function run(): Promise<BenchSection> {
  const n = Number(process.env.LORALENS_BENCH_CLIP_IMAGES ?? 24);
  const rssImages = Number(process.env.LORALENS_BENCH_CLIP_RSS_IMAGES ?? 200);
  const threads = availableParallelism();
  const models = await chooseModels();
  const fixtures = await loadFixtures();
  const tokenizer = await loadClipTokenizer(models.vocab);
  const { server, origin } = await serveFixtures(fixtures);
  const agent = new Agent({ connections: 8 });
  const notes: string[] = [
    `${MODEL_NOTES[models.kind]} (${models.dir})`,
    `${n} images per run (${fixtures.length} distinct fixture JPEGs at 512 px) from ${origin}; intra-op threads ${threads}; every timed row is ${RUNS} runs (min/median/max)`,
  ];
  notes.push(`at start: ${loadNote()}`);
  const rows: BenchSection['rows'] = [];
  const timed = (
    measure: string,
    unit: string,
    values: number[],
    extra: BenchSection['rows'][number] = {},
  ) => {
    const s = spread(values, unit === 'ratio' ? 3 : 1);
    rows.push({ measure, unit, min: s.min, median: s.median, max: s.max, ...extra });
    return s.median;
  };
  let probeSession: Probe | undefined;
  try {
    const tensors: Float32Array[] = [];
    for (let i = 0; i < n; i++) {
      const d = await decodeImage(fixtures[i % fixtures.length]!.jpeg);
      if (d.ok) tensors.push(clipTensor(d));
    }
    const probePath =
      models.kind === 'surrogate' ? (await ensureSurrogateClipModels()).probe : await writeProbe();
    probeSession = await openProbe(probePath, threads);
    const matmul = probeSession;
    // Efficiency of a timed run = its GFLOP/s ÷ the probe measured right before it (paired).
    const paired = () => {
      const values: number[] = [];
      return { values, before: async () => values.push(await matmul.local()) };
    };

    // 2. Batch size from the median of repeated bare runs.
    let best = { batch: 1, ips: 0, runs: [] as number[], probes: [] as number[] };
    for (const batch of [1, 8, 16]) {
      const p = paired();
      const runs = await bareVisionIps(models.dir, tensors, batch, threads, p.before);
      const ips = timed(`bare vision run, batch ${batch}`, 'img/s', runs);
      if (ips > best.ips * 1.05) best = { batch, ips, runs, probes: p.values };
    }
    notes.push(
      `batch size ${best.batch}: the best median of bare vision session.run (a larger batch must gain > 5 %)`,
    );

    // 3. Shorter text windows (the audit mix's windows).
    const mix = auditMixPrompts(fixtures, tokenizer, n);
    const mixRows = mix.flatMap((p) => tokenizer.windows(cleanPrompt(p).text).map((w) => w.ids));
    const meanLen = mixRows.reduce((a, r) => a + textSequenceLength(r), 0) / mixRows.length;
    notes.push(
      `audit prompt mix: ${mix.length} distinct prompts, ${mixRows.length} windows (${(mixRows.length / mix.length).toFixed(2)} per prompt), mean real length ${meanLen.toFixed(1)} of 77 tokens`,
    );
    // Text batch size from the median of repeated bare runs at real length, like the vision batch.
    let textBest = { batch: 8, wps: 0, runs: [] as number[], probes: [] as number[] };
    for (const batch of [8, 16, 32]) {
      const p = paired();
      const runs = (await bareTextSeconds(models.dir, mixRows, batch, threads, true, p.before)).map(
        (s) => mixRows.length / s,
      );
      const wps = timed(`bare text run, windows at real length, batch ${batch}`, 'windows/s', runs);
      if (wps > textBest.wps * 1.05) textBest = { batch, wps, runs, probes: p.values };
    }
    notes.push(
      `text batch size ${textBest.batch}: the best median of bare text session.run at real length (a larger batch must gain > 5 %)`,
    );
    const at77 = await bareTextSeconds(models.dir, mixRows, textBest.batch, threads, false);
    const w77 = timed(
      `bare text run, windows at 77 tokens, batch ${textBest.batch}`,
      'windows/s',
      at77.map((s) => mixRows.length / s),
    );
    const wShort = textBest.wps;
    rows.push({
      measure: 'ratio: real-length / 77-token windows',
      unit: 'ratio',
      median: Number((wShort / w77).toFixed(2)),
    });

    // 4 + 5. The CLIP stage with the audit mix, sessions in workers (shipped) vs on the main thread.
    const mixImages = inputsFor(origin, fixtures, n).map((img, i) => ({ ...img, prompt: mix[i]! }));
    const stageGflop = (2 * clipStageMacs(n, mix, tokenizer)) / 1e9;
    const byThread: Record<string, Awaited<ReturnType<typeof pipelineRun>>[]> = {};
    // The shipped stage's text runs: tokens run (padding included) and session.run time per tower.
    const stageRuns = { textTokens: 0, visionMs: 0, textMs: 0 };
    // 1. The ceiling, measured right before and right after the CLIP stage (same threads and options).
    const probeBefore = await matmul.gflops();
    let probeAfter: number[] = [];
    const stageProbe = paired();
    for (const where of ['worker', 'main'] as const) {
      if (where === 'main') probeAfter = await matmul.gflops();
      let counting = false;
      const scorer = await createClipScorer({
        modelDir: models.dir,
        vocabPath: models.vocab,
        batchSize: best.batch,
        textBatchSize: textBest.batch,
        sessionThread: where,
        onRun: (r) => {
          if (where !== 'worker' || !counting) return;
          if (r.tower === 'text') {
            stageRuns.textTokens += r.rows * (r.sequenceLength ?? 77);
            stageRuns.textMs += r.ms;
          } else stageRuns.visionMs += r.ms;
        },
      } satisfies ClipScorerOptions);
      try {
        await pipelineRun(mixImages.slice(0, 2), scorer, agent, origin, best.batch); // warm-up
        const runs: Awaited<ReturnType<typeof pipelineRun>>[] = [];
        counting = true;
        for (let i = 0; i < RUNS; i++) {
          if (where === 'worker') await stageProbe.before();
          runs.push(await pipelineRun(mixImages, scorer, agent, origin, best.batch));
        }
        counting = false;
        byThread[where] = runs;
      } finally {
        await scorer.dispose();
      }
    }
    timed('MatMul probe right before the CLIP stage', 'GFLOP/s', probeBefore);
    timed('MatMul probe right after the CLIP stage', 'GFLOP/s', probeAfter);
    const probe = Math.max(...probeBefore, ...probeAfter);
    rows.push({
      measure: `MatMul probe ceiling (best of ${probeBefore.length + probeAfter.length})`,
      unit: 'GFLOP/s',
      median: Number(probe.toFixed(1)),
    });
    const workerRuns = byThread.worker!;
    const mainRuns = byThread.main!;
    const stageIps = timed(
      'CLIP stage, audit mix, workers (shipped)',
      'img/s',
      workerRuns.map((r) => r.ips),
    );
    if (models.kind === 'tiny') {
      notes.push('tiny models: no FLOP accounting (their cost is not ViT-B/32’s)');
    } else {
      const achieved = workerRuns.map((r) => (stageGflop * r.ips) / n);
      const achievedMedian = timed('CLIP stage, achieved (counted MACs × 2)', 'GFLOP/s', achieved);
      const achievedBest = Math.max(...achieved);
      // The goal: each stage run against the probe measured right before it (the machine's speed drifts
      // between sections, so a ceiling from minutes away can be too high or too low).
      const byRun = (values: number[], probes: number[]) => values.map((v, i) => v / probes[i]!);
      const stagePaired = byRun(achieved, stageProbe.values);
      const stageFraction = timed(
        'ratio: CLIP stage / probe measured right before each run (paired)',
        'ratio',
        stagePaired,
        { goal: '>= 0.85', met: spread(stagePaired, 3).median >= 0.85 },
      );
      rows.push({
        measure: `ratio: CLIP stage (median ${achievedMedian.toFixed(1)}) / probe ceiling (${probe.toFixed(1)}, stricter)`,
        unit: 'ratio',
        median: Number((achievedMedian / probe).toFixed(3)),
      });
      // Best against best: above 1 means the probe was not a ceiling (a bench defect, not a result).
      rows.push({
        measure: `ratio: CLIP stage best (${achievedBest.toFixed(1)}) / probe ceiling (sanity: <= 1)`,
        unit: 'ratio',
        median: Number((achievedBest / probe).toFixed(3)),
        goal: '<= 1',
        met: achievedBest <= probe,
      });
      // What each tower computes on its own (bare session.run at the chosen batch sizes), each run against
      // its paired probe, and the stage's bound if every run of the mix were as efficient as those bare runs.
      const visionGflop = (2 * n * visionImageMacs()) / 1e9;
      const textGflop = stageGflop - visionGflop;
      const visionRates = best.runs.map((ips) => (ips * 2 * visionImageMacs()) / 1e9);
      const mixTextGflop = (2 * mixRows.reduce((a, r) => a + textWindowMacs(textSequenceLength(r)), 0)) / 1e9;
      const textRates = textBest.runs.map((wps) => (mixTextGflop * wps) / mixRows.length);
      const visionFraction = timed(
        `bare vision, batch ${best.batch}: ${spread(visionRates).median} GFLOP/s ÷ paired probe`,
        'ratio',
        byRun(visionRates, best.probes),
      );
      const textFraction = timed(
        `bare text, real length, batch ${textBest.batch}: ${spread(textRates).median} GFLOP/s ÷ paired probe`,
        'ratio',
        byRun(textRates, textBest.probes),
      );
      const bound = stageGflop / (visionGflop / visionFraction + textGflop / textFraction);
      rows.push(
        {
          measure: `bound: the stage's mix (${visionGflop.toFixed(0)} GFLOP vision + ${textGflop.toFixed(0)} text) at those fractions`,
          unit: 'ratio',
          median: Number(bound.toFixed(3)),
        },
        {
          measure: 'ratio: CLIP stage / that bound (what the pipeline loses around session.run)',
          unit: 'ratio',
          median: Number((stageFraction / bound).toFixed(3)),
        },
      );
      // Padding: every prompt's windows are sorted by length together before batching (one call).
      const realTokens = mixRows.reduce((a, r) => a + textSequenceLength(r), 0) * RUNS;
      rows.push({
        measure: 'CLIP stage: text tokens run ÷ real tokens (padding, all 3 runs)',
        unit: 'ratio',
        median: Number((stageRuns.textTokens / realTokens).toFixed(3)),
      });
      const stageSeconds = workerRuns.reduce((a, r) => a + n / r.ips, 0);
      rows.push({
        measure: `CLIP stage: share of wall time in session.run (vision ${(stageRuns.visionMs / 1000).toFixed(1)} s + text ${(stageRuns.textMs / 1000).toFixed(1)} s of ${stageSeconds.toFixed(1)} s)`,
        unit: 'ratio',
        median: Number(((stageRuns.visionMs + stageRuns.textMs) / 1000 / stageSeconds).toFixed(3)),
      });
      notes.push(
        `CLIP stage work: ${stageGflop.toFixed(0)} GFLOP per run (${(visionImageMacs() / 1e9).toFixed(2)} GMAC per image, ${(textWindowMacs(77) / 1e9).toFixed(2)} GMAC per 77-token window, less for shorter ones), ${(n / stageIps).toFixed(1)} s median`,
      );
    }
    timed(
      'CLIP stage, audit mix, main thread (before)',
      'img/s',
      mainRuns.map((r) => r.ips),
    );
    for (const [label, runs] of [
      ['workers (shipped)', workerRuns],
      ['main thread (before)', mainRuns],
    ] as const) {
      timed(
        `event-loop p50, CLIP stage, ${label}`,
        'ms',
        runs.map((r) => r.p50),
      );
      timed(
        `event-loop p99, CLIP stage, ${label}`,
        'ms',
        runs.map((r) => r.p99),
        {
          goal: '< 50',
          met: spread(runs.map((r) => r.p99)).median < 50,
        },
      );
      timed(
        `event-loop max, CLIP stage, ${label}`,
        'ms',
        runs.map((r) => r.max),
      );
    }

    // 6. Pipeline vs loop, equal work (both encode each distinct prompt once); dedup's own gain.
    const images = inputsFor(origin, fixtures, n);
    const distinct = new Set(images.map((im) => cleanPrompt(im.prompt ?? '').text)).size;
    notes.push(
      `pipeline vs loop: fixture prompt mix, ${distinct} distinct prompts over ${n} images (both sides encode each once)`,
    );
    // session.run milliseconds (in the workers) per scorer: how much of each wall time is inference.
    const busy = { batched: 0, single: 0 };
    const batched = await createClipScorer({
      modelDir: models.dir,
      vocabPath: models.vocab,
      batchSize: best.batch,
      onRun: (r) => {
        busy.batched += r.ms;
      },
    });
    const single = await createClipScorer({
      modelDir: models.dir,
      vocabPath: models.vocab,
      batchSize: 1,
      onRun: (r) => {
        busy.single += r.ms;
      },
    });
    const distinctPrompts = [...new Set(images.map((im) => cleanPrompt(im.prompt ?? '').text))];
    try {
      await oneAtATime(images.slice(0, 2), single, agent, origin, true);
      await pipelineRun(images.slice(0, 2), batched, agent, origin, best.batch);
      // Interleaved (pipeline, loop, loop without dedup, bare) so a changing load hits all alike.
      const m = { pipe: [] as number[], loop: [] as number[], loopAll: [] as number[], bare: [] as number[] };
      const share = { pipe: [] as number[], loop: [] as number[] };
      for (let rep = 0; rep < RUNS; rep++) {
        busy.batched = 0;
        let t0 = performance.now();
        const p = await pipelineRun(images, batched, agent, origin, best.batch);
        share.pipe.push(busy.batched / (performance.now() - t0));
        m.pipe.push(p.ips);
        busy.single = 0;
        t0 = performance.now();
        const scored = await oneAtATime(images, single, agent, origin, true);
        const loopMs = performance.now() - t0;
        share.loop.push(busy.single / loopMs);
        m.loop.push(scored / (loopMs / 1000));
        t0 = performance.now();
        const scoredAll = await oneAtATime(images, single, agent, origin, false);
        m.loopAll.push(scoredAll / ((performance.now() - t0) / 1000));
        // The same inference batched, on tensors decoded beforehand: what the pipeline can reach at most.
        t0 = performance.now();
        await batched.embedTexts(distinctPrompts);
        await batched.embedImages(tensors);
        m.bare.push(tensors.length / ((performance.now() - t0) / 1000));
      }
      const pipe = timed(`pipeline, batch ${best.batch}, 4 downloads`, 'img/s', m.pipe);
      const loop = timed('loop, prompts deduplicated (equal work)', 'img/s', m.loop);
      const loopAll = timed('loop, every prompt encoded', 'img/s', m.loopAll);
      const bare = timed(`bare batched inference (pre-decoded, batch ${best.batch})`, 'img/s', m.bare);
      timed('pipeline: session.run time / wall', 'ratio', share.pipe);
      timed('loop: session.run time / wall', 'ratio', share.loop);
      // Ratios per repetition (the sides ran back to back), then min/median/max: a paired comparison.
      const paired = (a: number[], b: number[]) => a.map((x, i) => x / b[i]!);
      const pipeLoop = spread(paired(m.pipe, m.loop), 2);
      rows.push({
        measure: `ratio: pipeline / loop (equal work; ${pipe} / ${loop} img/s medians)`,
        unit: 'ratio',
        ...pipeLoop,
        goal: '>= 3',
        met: pipeLoop.median >= 3,
      });
      timed(
        `bound: bare batched / loop (${bare} / ${loop}; the pipeline cannot beat bare batched inference)`,
        'ratio',
        paired(m.bare, m.loop),
      );
      timed(
        'ratio: pipeline / bare batched (cost of overlapping decode with inference)',
        'ratio',
        paired(m.pipe, m.bare),
      );
      timed(
        `ratio: dedup gain (loop dedup / loop all; ${loop} / ${loopAll})`,
        'ratio',
        paired(m.loop, m.loopAll),
      );
      notes.push(
        'pipeline vs loop: with ViT-B/32-cost towers the loop already spends most of its wall time in session.run (its row above), so batching and overlap can gain at most bare/loop; on 2 cores the overlapped decode (libvips threads, preprocessing) takes cores from the two intra-op threads, whose parallel sections wait for the slower thread, so pipeline/bare < 1',
      );
    } finally {
      await batched.dispose();
      await single.dispose();
    }

    // 7. Peak RSS.
    const child = await runChild({
      origin,
      n: rssImages,
      modelDir: models.dir,
      vocab: models.vocab,
      batch: best.batch,
    });
    const gib = child.maxRssKiB / 1024 / 1024;
    rows.push({
      measure: `peak RSS, ${rssImages} images (child process)`,
      unit: 'GiB',
      median: Number(gib.toFixed(3)),
      goal: '< 1.5',
      met: gib < 1.5,
    });
    notes.push(`RSS child scored ${child.scored} images in ${child.seconds.toFixed(1)} s`);
  } finally {
    await probeSession?.release();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await agent.close();
  }
  notes.push(`at end: ${loadNote()}`);
  return { name: `clip (${models.kind} models)`, rows, notes };
}

/** The MatMul probe for real or tiny models (the surrogate directory already holds one). */
async function writeProbe(): Promise<string> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = join(tmpdir(), 'loralens-matmul-probe');
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'matmul_probe.onnx');
  if (!existsSync(path)) await writeFile(path, matmulProbeModel());
  return path;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--rss-child') {
    await rssChild(JSON.parse(process.argv[3] ?? '{}'));
  } else {
    const section = await run();
    console.table(section.rows);
    for (const note of section.notes) console.log(`- ${note}`);
  }
}
