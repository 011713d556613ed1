import { AUDIT_SCHEMA_VERSION, type AuditDocument } from '../../../src/analysis/audit/document.ts';
import type {
  AuditFile,
  AuditResult,
  AuditService,
  FlaggedImage,
  ModelAuditSummary,
  ModelSearchHit,
} from '../../../src/analysis/audit/service.ts';
import {
  type AuditHooks,
  AuditRunOptions,
  type AuditRunOptionsInput,
  AuditSelection,
  type AuditSelectionInput,
  type Finding,
} from '../../../src/analysis/audit/types.ts';
import { AppError, ErrorCode } from '../../../src/analysis/errors.ts';
import type { ProgressEvent } from '../../../src/analysis/ports.ts';

export interface AuditCall {
  selection: AuditSelection;
  options: AuditRunOptions;
  signal: AbortSignal | undefined;
}

/** A controllable release gate for one audit call. */
interface Gate {
  promise: Promise<void>;
  release: () => void;
}

/**
 * A real {@link AuditService} for bot tests: answers from scripted results, records calls, can hold
 * an audit until released (to test queueing and dedup), and emits scripted progress.
 */
export class FakeAuditService implements AuditService {
  readonly calls: AuditCall[] = [];
  readonly searches: string[] = [];
  readonly imageFetches: string[] = [];
  /** When set, each audit waits for `release()` before answering. */
  hold = false;
  progress: ProgressEvent[] = [];
  searchDelayMs = 0;
  failWith: unknown = null;
  images = new Map<string, Buffer>();
  hits: ModelSearchHit[] = [];
  #gates: Gate[] = [];
  #waiters: Array<() => void> = [];

  constructor(private readonly build: (selection: AuditSelection) => AuditResult = defaultResult) {}

  async audit(
    selection: AuditSelectionInput,
    options?: AuditRunOptionsInput,
    hooks?: AuditHooks,
  ): Promise<AuditResult> {
    const parsed = AuditSelection.parse(selection);
    this.calls.push({
      selection: parsed,
      options: AuditRunOptions.parse(options ?? {}),
      signal: hooks?.signal,
    });
    for (const w of this.#waiters.splice(0)) w();
    for (const event of this.progress) hooks?.onProgress?.(event);
    if (this.hold) {
      let release: () => void = () => {};
      const promise = new Promise<void>((resolve, reject) => {
        release = resolve;
        hooks?.signal?.addEventListener('abort', () => reject(hooks.signal?.reason), { once: true });
      });
      this.#gates.push({ promise, release });
      await promise;
    }
    if (this.failWith) throw this.failWith;
    return this.build(parsed);
  }

  /** Release the oldest held audit. */
  release(): void {
    this.#gates.shift()?.release();
  }

  /** Resolves once at least `count` audits have started. */
  async started(count: number): Promise<void> {
    while (this.calls.length < count) await new Promise<void>((r) => this.#waiters.push(r));
  }

  async searchModels(query: string, limit = 25): Promise<ModelSearchHit[]> {
    this.searches.push(query);
    if (this.searchDelayMs > 0) await new Promise((r) => setTimeout(r, this.searchDelayMs));
    return this.hits.filter((h) => h.name.toLowerCase().includes(query.toLowerCase())).slice(0, limit);
  }

  async fetchImage(url: string): Promise<Buffer> {
    this.imageFetches.push(url);
    const data = this.images.get(url);
    if (!data) throw new AppError(ErrorCode.CIVITAI_NOT_FOUND, `no image ${url}`);
    return data;
  }
}

export const PNG_HEADER = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function finding(modelId: number, rule: string, overrides: Partial<Finding> = {}): Finding {
  return {
    itemKey: `${modelId}:text:${rule}:abc${rule.length}`,
    detector: 'text',
    rule,
    severity: 'warning',
    title: `Rule ${rule} fired`,
    evidence: `Comment says the trigger word ${rule} is wrong`,
    ...overrides,
  };
}

export function model(
  modelId: number,
  findings: Finding[],
  overrides: Partial<ModelAuditSummary> = {},
): ModelAuditSummary {
  return {
    modelId,
    name: `Model ${modelId}`,
    url: `https://civitai.com/models/${modelId}`,
    creator: 'alice',
    type: 'LORA',
    versionCount: 2,
    publishedAt: '2024-03-01T00:00:00.000Z',
    updatedAt: '2024-04-01T00:00:00.000Z',
    downloadCount: 12345,
    imageCount: 20,
    commentCount: 7,
    commentsRead: 7,
    hasTrainingTags: true,
    commentsStatus: 'ok',
    verdict: findings.length > 0 ? 'flagged' : 'clean',
    verdictLine:
      findings.length > 0 ? `${findings.length} tag problems found in comments` : 'no problems found',
    findings,
    metrics: { model_id: modelId, findings: findings.length },
    ...overrides,
  };
}

export function metricsCsv(models: ModelAuditSummary[]): AuditFile {
  const rows = [
    'row_type,model_id,name,verdict,findings',
    ...models.map((m) => `model,${m.modelId},"${m.name}",${m.verdict},${m.findings.length}`),
  ];
  return { name: 'metrics.csv', contentType: 'text/csv', data: Buffer.from(`${rows.join('\n')}\n`) };
}

export function flagged(modelId: number, imageId: number, nsfwLevel: number): FlaggedImage {
  return {
    modelId,
    versionId: modelId * 10,
    imageId,
    url: `https://image.civitai.com/x/${imageId}.png`,
    nsfwLevel,
    reason: 'prompt/image mismatch',
  };
}

/** The typed audit.json behind a scripted result (what the report builder draws from). */
export function documentOf(
  selection: AuditSelection,
  models: readonly ModelAuditSummary[],
  notes: readonly string[] = [],
  flaggedImages: readonly FlaggedImage[] = [],
): AuditDocument {
  return {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    tool: { name: 'loralens', version: '0.1.0' },
    generatedAt: '2025-06-02T09:00:00.000Z',
    selection,
    options: AuditRunOptions.parse({}),
    analyses: ['text'],
    notes: [...notes],
    summaries: {},
    models: models.map((m) => ({
      ...m,
      commentsReason: m.commentsReason ?? null,
      versions: [],
      outcomes: { text: { flagged: m.verdict === 'flagged', unmeasured: null } },
      analyses: {},
      samples: [],
    })),
    rows: [],
    flaggedImages: flaggedImages.map((f) => ({ ...f, prompt: null })),
  };
}

/** Default scripted answer: model audits find two problems; top-N audits return n models, every third flagged. */
export function defaultResult(selection: AuditSelection): AuditResult {
  let models: ModelAuditSummary[];
  if (selection.kind === 'top') {
    models = Array.from({ length: selection.n }, (_, i) => {
      const id = 1000 + i;
      return model(id, i % 3 === 0 ? [finding(id, 'trigger')] : []);
    });
  } else {
    const id = selection.kind === 'model' ? Number(/\d+/.exec(selection.ref)?.[0] ?? 1) : 1;
    models = [model(id, [finding(id, 'trigger', { severity: 'error' }), finding(id, 'caption-drift')])];
  }
  const notes = ['Comments were read without an API key; reviews were skipped.'];
  return {
    generatedAt: '2025-06-02T09:00:00.000Z',
    selection,
    models,
    notes,
    flaggedImages: [],
    document: documentOf(selection, models, notes),
    files: [
      metricsCsv(models),
      {
        name: 'audit.json',
        contentType: 'application/json',
        data: Buffer.from(JSON.stringify({ models: models.length })),
      },
    ],
  };
}
