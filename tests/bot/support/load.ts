import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AuditService } from '../../../src/analysis/audit/service.ts';
import { silentLogger } from '../../../src/analysis/ports.ts';
import { createAuditService } from '../../../src/app/create-audit-service.ts';
import { loadConfig } from '../../../src/config.ts';
import { openStorage } from '../../../src/storage/backend.ts';
import type { Json } from '../../support/catalogue.ts';
import { startCivitaiReplay } from '../../support/civitai-replay.ts';
import type { FakeInteraction, RecordedRequest } from '../../support/fake-discord/server.ts';
import { sharedCatalogue } from '../../support/shared-catalogue.ts';
import { startHarness } from './harness.ts';
import { hasEmbeds, isCallback, isFollowUp, isOriginalEdit } from './helpers.ts';

/** The hostile model: ~20 000 nested tags in the description and a 1 MB comment without punctuation. */
export const HOSTILE_MODEL_ID = 666_001;

export interface LoadOptions {
  interactions: number;
  guilds: number;
  /** Interactions are spread evenly over this many milliseconds. */
  spreadMs: number;
  /** Distinct models requested (so most requests are duplicates of another). */
  distinctModels: number;
  /** Also audit the hostile model (first interaction) while the load runs. */
  hostile: boolean;
  /** Give up waiting for final replies after this long. */
  settleMs: number;
}

export type Outcome = 'report' | 'busy' | 'error' | 'none';

export interface LoadFigures {
  interactions: number;
  guilds: number;
  spreadMs: number;
  hostile: boolean;
  /** Milliseconds from dispatch to the interaction callback (defer or reply); null = never acked. */
  ackMs: Array<number | null>;
  outcomes: Record<Outcome, number>;
  /** Interactions without a final reply or busy sentence when the wait ended. */
  lost: number;
  auditCalls: number;
  /** Requests that joined a queued or running identical job. */
  shared: number;
  /** Most audits of one selection that ran at the same time (1 = duplicates collapsed). */
  maxConcurrentSameSelection: number;
  hostileOutcome: Outcome | null;
  ackP50: number;
  ackP95: number;
  ackMax: number;
  loopP50: number;
  loopP95: number;
  /** The issue's goal figure: p99 < 50 ms during an audit. */
  loopP99: number;
  /** Longest event-loop delay seen (≈ the longest block), ms. */
  loopMax: number;
  wallMs: number;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Description and comment a hostile uploader controls. */
export function hostileTexts(): { description: string; comment: string } {
  const depth = 20_000;
  const description = `${'<div><b>'.repeat(depth / 2)}deep${'</b></div>'.repeat(depth / 2)}`;
  const words = ['tag', 'wrong', 'trigger', 'lora', 'style', 'token', 'image', 'the', 'is', 'and'];
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < 1_000_000; i++) {
    const w = words[(i * 7) % words.length] ?? 'x';
    parts.push(w);
    size += w.length + 1;
  }
  return { description, comment: `<p>${parts.join(' ')}</p>` };
}

function addHostileModel(models: Json[], comments: Map<number, Json[]>, template: Json): void {
  const { description, comment } = hostileTexts();
  const model = structuredClone(template);
  model.id = HOSTILE_MODEL_ID;
  model.name = 'Hostile HTML';
  model.description = description;
  models.push(model);
  comments.set(HOSTILE_MODEL_ID, [
    {
      id: 990_001,
      createdAt: '2025-01-01T00:00:00.000Z',
      nsfw: false,
      content: comment,
      modelId: HOSTILE_MODEL_ID,
      parentId: null,
      locked: false,
      tosViolation: false,
      hidden: false,
      pinnedAt: null,
      user: { id: 77, username: 'hostile', image: null, deletedAt: null, cosmetics: [] },
      reactions: [],
      model: { name: 'Hostile HTML' },
      _count: { comments: 0 },
    },
  ]);
}

/** Wraps a service to count audits and the most concurrent audits of one selection. */
function countingService(inner: AuditService): AuditService & {
  calls: number;
  maxSame: number;
} {
  const inFlight = new Map<string, number>();
  const counter = {
    calls: 0,
    maxSame: 0,
    searchModels: inner.searchModels.bind(inner),
    fetchImage: inner.fetchImage.bind(inner),
    async audit(...args: Parameters<AuditService['audit']>) {
      const key = JSON.stringify(args[0]);
      counter.calls++;
      const now = (inFlight.get(key) ?? 0) + 1;
      inFlight.set(key, now);
      counter.maxSame = Math.max(counter.maxSame, now);
      try {
        return await inner.audit(...args);
      } finally {
        inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
      }
    },
  };
  return counter as AuditService & { calls: number; maxSame: number };
}

const BUSY = /^⏳ Busy:/;

function outcomeOf(requests: readonly RecordedRequest[], i: FakeInteraction): Outcome {
  const callback = requests.find(isCallback(i));
  const data = callback?.body?.data as { content?: string } | undefined;
  if (callback?.body?.type === 4 && BUSY.test(String(data?.content))) return 'busy';
  if (requests.some((r) => isOriginalEdit(i)(r) && hasEmbeds(r) && r.status < 300)) return 'report';
  const followUps = requests.filter((r) => isFollowUp(i)(r) && r.status < 300);
  if (followUps.some((r) => BUSY.test(String(r.body?.content)))) return 'busy';
  // The error boundary deletes the public placeholder and follows up with one ephemeral sentence.
  if (followUps.some((r) => ((r.body?.flags as number | undefined) ?? 0) & 64)) return 'error';
  return 'none';
}

/**
 * 200 `/audit model` interactions (by default) from many servers within a few seconds, against the
 * real bot on the fake Discord and the real audit service on the Civitai replay: records how fast
 * each was acknowledged, how each ended, how many audits ran, and the event-loop delay.
 */
export async function runBotLoad(options: LoadOptions): Promise<LoadFigures> {
  const catalogue = sharedCatalogue(Math.max(10, options.distinctModels));
  const loras = catalogue.models.filter((m) => m.type === 'LORA' || m.type === 'LoCon' || m.type === 'DoRA');
  const refs = loras.slice(0, options.distinctModels).map((m) => String(m.id));
  if (options.hostile && loras[0]) addHostileModel(catalogue.models, catalogue.comments, loras[0]);
  const replay = await startCivitaiReplay({ catalogue, tensorBytes: 64 * 1024 });
  const noModels = mkdtempSync(join(tmpdir(), 'loralens-load-'));
  const config = loadConfig({
    CIVITAI_BASE_URL: replay.url,
    CIVITAI_API_KEY: 'load-test-key',
    CIVITAI_RATE_PER_SECOND: '1000',
    CIVITAI_CONCURRENCY: '8',
    LORALENS_STORE_URL: 'memory://',
    LORALENS_MODELS_DIR: noModels,
  });
  const storage = openStorage('memory://');
  // As the bot composes it (src/bot/main.ts): every analysis, face detection in its worker thread.
  const real = createAuditService({ config, storage, logger: silentLogger });
  const service = countingService(real);
  let shared = 0;
  const logger = {
    ...silentLogger,
    child() {
      return logger;
    },
    info(obj: object, msg?: string) {
      if (msg === 'audit requested' && (obj as { shared?: boolean }).shared) shared++;
    },
  };
  const h = await startHarness({ auditService: service, storage, logger, config: { jobConcurrency: 2 } });
  // One audit before the load, as a running bot has done: modules load and compile once.
  const warm = h.discord.invoke({
    name: 'audit',
    subcommand: 'model',
    options: { model: refs.at(-1) ?? '1' },
  });
  for (let t = 0; t < 600 && outcomeOf(h.discord.requests, warm) === 'none'; t++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  const started = Date.now();
  const invoked: FakeInteraction[] = [];
  let hostile: FakeInteraction | null = null;
  try {
    histogram.enable();
    const gap = options.spreadMs / options.interactions;
    for (let k = 0; k < options.interactions; k++) {
      const due = started + k * gap;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const guild = k % options.guilds;
      const model =
        options.hostile && k === 0 ? String(HOSTILE_MODEL_ID) : (refs[(k * 7) % refs.length] ?? '1');
      const i = h.discord.invoke({
        name: 'audit',
        subcommand: 'model',
        options: { model },
        guildId: `7100000000000${String(guild).padStart(5, '0')}`,
        userId: `7200000000000${String(guild * 5 + (Math.floor(k / options.guilds) % 5)).padStart(5, '0')}`,
      });
      invoked.push(i);
      if (options.hostile && k === 0) hostile = i;
    }
    const deadline = Date.now() + options.settleMs;
    while (Date.now() < deadline) {
      const pending = invoked.filter((i) => outcomeOf(h.discord.requests, i) === 'none');
      if (pending.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    histogram.disable();
    const ackMs = invoked.map((i) => {
      const cb = h.discord.requests.find(isCallback(i));
      return cb ? cb.at - i.dispatchedAt : null;
    });
    const acked = ackMs.filter((v): v is number => v !== null);
    const outcomes: Record<Outcome, number> = { report: 0, busy: 0, error: 0, none: 0 };
    for (const i of invoked) outcomes[outcomeOf(h.discord.requests, i)]++;
    const ns = (v: number): number => Math.round((v / 1e6) * 10) / 10;
    return {
      interactions: options.interactions,
      guilds: options.guilds,
      spreadMs: options.spreadMs,
      hostile: options.hostile,
      ackMs,
      outcomes,
      lost: outcomes.none,
      auditCalls: service.calls,
      shared,
      maxConcurrentSameSelection: service.maxSame,
      hostileOutcome: hostile ? outcomeOf(h.discord.requests, hostile) : null,
      ackP50: percentile(acked, 50),
      ackP95: percentile(acked, 95),
      ackMax: acked.length > 0 ? Math.max(...acked) : Number.NaN,
      loopP50: ns(histogram.percentile(50)),
      loopP95: ns(histogram.percentile(95)),
      loopP99: ns(histogram.percentile(99)),
      loopMax: ns(histogram.max),
      wallMs: Date.now() - started,
    };
  } finally {
    histogram.disable();
    await h.close();
    await real.close();
    await replay.close();
    rmSync(noModels, { recursive: true, force: true });
  }
}

/** One line of figures for logs and the bench table. */
export function describeLoad(f: LoadFigures): string {
  return [
    `${f.interactions} /audit from ${f.guilds} servers in ${f.spreadMs / 1000} s${f.hostile ? ' + hostile model' : ''}:`,
    `ack p50 ${f.ackP50} ms, p95 ${f.ackP95} ms, max ${f.ackMax} ms;`,
    `event-loop delay p50 ${f.loopP50} ms, p95 ${f.loopP95} ms, p99 ${f.loopP99} ms, max ${f.loopMax} ms;`,
    `outcomes ${JSON.stringify(f.outcomes)}, ${f.auditCalls} audits, ${f.shared} joined a running/queued twin,`,
    `max same-selection concurrency ${f.maxConcurrentSameSelection}${f.hostile ? `, hostile model: ${f.hostileOutcome}` : ''};`,
    `${(f.wallMs / 1000).toFixed(1)} s wall`,
  ].join(' ');
}

// `node --import tsx tests/bot/support/load.ts [--hostile]`: run once and print the figures as JSON
// (the load test runs it in a child process, so a stalled event loop cannot stall the test runner).
if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await runBotLoad({
    interactions: Number(process.env.LOAD_INTERACTIONS ?? 200),
    guilds: Number(process.env.LOAD_GUILDS ?? 20),
    spreadMs: Number(process.env.LOAD_SPREAD_MS ?? 10_000),
    distinctModels: Number(process.env.LOAD_MODELS ?? 30),
    hostile: process.argv.includes('--hostile'),
    settleMs: Number(process.env.LOAD_SETTLE_MS ?? 90_000),
  });
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  process.exit(0);
}
