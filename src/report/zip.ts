import { Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import type { AuditDocument, DocumentImage } from '../analysis/audit/document.ts';
import type { Cell } from '../analysis/audit/metrics-csv.ts';

/**
 * error_samples.zip: the evidence images (calibrated CLIP low matches, and sample images of flagged
 * models), each with `<same-name>.json`, plus `manifest.json` and `README.txt`. Entries are flat
 * slugs (no separators, no `..`, at most 96 characters, unique). Written entry by entry into a sink:
 * one image is in memory at a time.
 */

export type EvidenceKind = 'low-match' | 'flagged-model-sample';

export interface EvidenceItem {
  kind: EvidenceKind;
  image: DocumentImage;
  modelName: string;
  /** Cleaned prompt and scores from the image's metrics.csv row (null when it was not scored). */
  promptClean: string | null;
  scores: Record<string, Cell>;
  /** itemKeys of the findings this image is evidence for. */
  findingKeys: string[];
}

const SCORE_COLUMNS = [
  'clip_cosine',
  'clip_cosine_mean',
  'clipscore',
  'clip_null_p',
  'clip_null_quantile',
  'low_match',
];

/** The evidence images of an audit, low matches first, one entry per (version, image). */
export function evidenceItems(doc: AuditDocument): EvidenceItem[] {
  const rows = new Map(
    doc.rows
      .filter((r) => r.row_type === 'image')
      .map((r): [string, (typeof doc.rows)[number]] => [`${r.version_id}:${r.image_id}`, r]),
  );
  const models = new Map(doc.models.map((m) => [m.modelId, m]));
  const seen = new Set<string>();
  const out: EvidenceItem[] = [];
  const add = (kind: EvidenceKind, image: DocumentImage): void => {
    const key = `${image.versionId}:${image.imageId}`;
    if (seen.has(key)) return;
    seen.add(key);
    const model = models.get(image.modelId);
    const row = rows.get(key);
    const findings = model?.findings ?? [];
    const own = findings.filter((f) => f.detector === 'clip' && f.source === image.url);
    out.push({
      kind,
      image,
      modelName: model?.name ?? String(image.modelId),
      promptClean: typeof row?.prompt_clean === 'string' ? row.prompt_clean : null,
      scores: Object.fromEntries(SCORE_COLUMNS.map((c) => [c, row?.[c] ?? null])),
      findingKeys: (kind === 'low-match' ? own : findings).map((f) => f.itemKey),
    });
  };
  for (const image of doc.flaggedImages) add('low-match', image);
  for (const m of doc.models) for (const image of m.samples) add('flagged-model-sample', image);
  return out;
}

/** A file-name-safe slug: lowercase ASCII letters, digits and dashes, at most `max` characters. */
export function slug(text: string, max = 40): string {
  const s = text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/g, '');
  return s.length > 0 ? s : 'x';
}

/** File extension from the image bytes (never from the URL). */
export function imageExtension(data: Uint8Array): string {
  const b = Buffer.from(data.buffer, data.byteOffset, Math.min(12, data.byteLength));
  if (b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return '.png';
  if (b[0] === 0xff && b[1] === 0xd8) return '.jpg';
  if (b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP')
    return '.webp';
  if (b.subarray(0, 3).toString('latin1') === 'GIF') return '.gif';
  return '.bin';
}

/** Where the ZIP's bytes go (a file stream in the CLI, a buffer for a Discord attachment). */
export interface ZipSink {
  write(chunk: Uint8Array): void | Promise<void>;
  end(): void | Promise<void>;
}

export interface ZipSummary {
  entries: Array<{ image: string; json: string; kind: EvidenceKind; modelId: number; imageId: number }>;
  /** Evidence images left out by the NSFW rule of this front door. */
  withheld: number;
  /** Images that could not be downloaded. */
  failed: number;
  bytes: number;
}

export interface ZipOptions {
  /** Image bytes for an item; null = not available (counted as failed). */
  source: (item: EvidenceItem) => Promise<Buffer | null>;
  /** Whether this image may go into the ZIP (NSFW rules of the front door). */
  allow: (image: DocumentImage) => boolean;
  /** A sentence for README.txt saying which NSFW rule applied. */
  nsfwRule: string;
  maxImages?: number;
}

const README = (
  doc: AuditDocument,
  summary: ZipSummary,
  rule: string,
): string => `error_samples.zip — evidence images of a loralens audit (${doc.generatedAt})

Each image comes with a JSON file of the same name: model, version, image id, URL, the prompt as
published and as cleaned for CLIP, the scores, why it is here, and the keys of the findings it
supports (audit.json models[].findings[].itemKey).

kind "low-match": the image's CLIP similarity with its own prompt was not above its calibrated
  null (shuffled prompts), i.e. the prompt probably does not describe the image.
kind "flagged-model-sample": a sample image of a model an analysis flagged, for context.

Images in this file: ${summary.entries.length}. Left out by the NSFW rule: ${summary.withheld}.
Could not be downloaded: ${summary.failed}.
NSFW rule: ${rule}
manifest.json lists every entry.
`;

const encoder = new TextEncoder();

/**
 * The ZIP itself, entry by entry: `add` one image (stored) and its JSON (deflated), then `finish`
 * with manifest.json and README.txt. Synchronous: bytes leave through `onChunk` as they are made.
 */
export class EvidenceZip {
  readonly summary: ZipSummary = { entries: [], withheld: 0, failed: 0, bytes: 0 };
  readonly #zip: Zip;
  readonly #names = new Set<string>(['manifest.json', 'readme.txt']);
  #error: Error | null = null;

  constructor(
    private readonly doc: AuditDocument,
    private readonly nsfwRule: string,
    onChunk: (chunk: Uint8Array, final: boolean) => void,
  ) {
    this.#zip = new Zip((err, chunk, final) => {
      if (err) {
        this.#error = err;
        return;
      }
      this.summary.bytes += chunk.byteLength;
      onChunk(chunk, final);
    });
  }

  #unique(base: string, ext: string): string {
    let stem = base;
    for (let i = 2; this.#names.has(`${stem}${ext}`) || this.#names.has(`${stem}.json`); i++)
      stem = `${base}-${i}`;
    this.#names.add(`${stem}${ext}`);
    this.#names.add(`${stem}.json`);
    return stem;
  }

  #file(name: string, data: Uint8Array, compress: boolean): void {
    const entry = compress ? new ZipDeflate(name, { level: 6 }) : new ZipPassThrough(name);
    this.#zip.add(entry);
    entry.push(data, true);
    if (this.#error) throw this.#error;
  }

  /** Add one evidence image and its JSON. */
  add(item: EvidenceItem, data: Uint8Array): void {
    const { image } = item;
    const ext = imageExtension(data);
    const stem = this.#unique(
      `${image.modelId}-${slug(item.modelName, 32)}-v${image.versionId}-i${image.imageId}-${item.kind}`,
      ext,
    );
    this.#file(`${stem}${ext}`, data, false);
    const meta = {
      kind: item.kind,
      modelId: image.modelId,
      modelName: item.modelName,
      versionId: image.versionId,
      imageId: image.imageId,
      url: image.url,
      nsfwLevel: image.nsfwLevel,
      prompt: image.prompt,
      promptClean: item.promptClean,
      scores: item.scores,
      reason: image.reason,
      findingKeys: item.findingKeys,
    };
    this.#file(`${stem}.json`, encoder.encode(`${JSON.stringify(meta, null, 2)}\n`), true);
    this.summary.entries.push({
      image: `${stem}${ext}`,
      json: `${stem}.json`,
      kind: item.kind,
      modelId: image.modelId,
      imageId: image.imageId,
    });
  }

  /** Write manifest.json and README.txt and close the archive. */
  finish(): ZipSummary {
    const { doc, summary } = this;
    const manifest = {
      schemaVersion: doc.schemaVersion,
      generatedAt: doc.generatedAt,
      tool: doc.tool,
      nsfwRule: this.nsfwRule,
      withheld: summary.withheld,
      failed: summary.failed,
      entries: summary.entries,
    };
    this.#file('manifest.json', encoder.encode(`${JSON.stringify(manifest, null, 2)}\n`), true);
    this.#file('README.txt', encoder.encode(README(doc, summary, this.nsfwRule)), true);
    this.#zip.end();
    if (this.#error) throw this.#error;
    return summary;
  }
}

/**
 * Stream error_samples.zip into `sink`, fetching one image at a time through `options.source` and
 * waiting for the sink before the next. Returns what went in.
 */
export async function writeErrorSamplesZip(
  doc: AuditDocument,
  items: readonly EvidenceItem[],
  options: ZipOptions,
  sink: ZipSink,
): Promise<ZipSummary> {
  let pending: Promise<void> = Promise.resolve();
  const zip = new EvidenceZip(doc, options.nsfwRule, (chunk, final) => {
    pending = pending.then(async () => {
      await sink.write(chunk);
      if (final) await sink.end();
    });
  });
  const max = options.maxImages ?? 200;
  for (const item of items) {
    if (!options.allow(item.image)) {
      zip.summary.withheld++;
      continue;
    }
    if (zip.summary.entries.length >= max) break;
    const data = await options.source(item);
    if (!data) {
      zip.summary.failed++;
      continue;
    }
    zip.add(item, data);
    await pending;
  }
  const summary = zip.finish();
  await pending;
  return summary;
}

/** A sink that keeps the ZIP in memory (for a Discord attachment). */
export function bufferSink(): ZipSink & { buffer(): Buffer } {
  const chunks: Uint8Array[] = [];
  return {
    write: (c) => {
      chunks.push(c);
    },
    end: () => {},
    buffer: () => Buffer.concat(chunks),
  };
}
