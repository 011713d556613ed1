import type { AuditDocument } from '../../analysis/audit/document.ts';
import type { AuditFile, FlaggedImage } from '../../analysis/audit/service.ts';
import type { Logger } from '../../analysis/ports.ts';
import { DiscordLimits } from '../../commands/discord-limits.ts';
import type { OutgoingFile } from '../../commands/types.ts';
import { type EvidenceItem, EvidenceZip } from '../../report/zip.ts';

/** Highest Civitai nsfwLevel that may be shown in a channel that is not age-restricted (PG-13). */
export const SFW_MAX_NSFW_LEVEL = 2;

/** Whether an image may be posted in a channel; unknown levels (0, missing) count as unsafe. */
export function imageAllowed(image: Pick<FlaggedImage, 'nsfwLevel'>, nsfwChannel: boolean): boolean {
  if (nsfwChannel) return true;
  return image.nsfwLevel >= 1 && image.nsfwLevel <= SFW_MAX_NSFW_LEVEL;
}

export interface SampleImage {
  item: EvidenceItem;
  data: Buffer;
}

export interface ErrorSamples {
  /** Images that may be attached in this channel and could be downloaded. */
  images: SampleImage[];
  withheld: number;
  failed: number;
}

/** Download the evidence images this channel may see (age-restricted channels see all). */
export async function collectErrorSamples(
  items: readonly EvidenceItem[],
  nsfwChannel: boolean,
  fetchImage: (url: string, signal?: AbortSignal) => Promise<Buffer>,
  logger: Logger,
  maxImages = 50,
): Promise<ErrorSamples> {
  const allowed = items.filter((item) => imageAllowed(item.image, nsfwChannel));
  const withheld = items.length - allowed.length;
  const images: SampleImage[] = [];
  let failed = 0;
  for (const item of allowed.slice(0, maxImages)) {
    try {
      images.push({ item, data: await fetchImage(item.image.url, AbortSignal.timeout(20_000)) });
    } catch (error) {
      failed++;
      logger.warn({ err: error, url: item.image.url }, 'evidence image download failed');
    }
  }
  return { images, withheld, failed };
}

/** The NSFW sentence README.txt of a Discord ZIP carries. */
export function nsfwRule(nsfwChannel: boolean): string {
  return nsfwChannel
    ? 'age-restricted Discord channel: every level'
    : `Discord channel that is not age-restricted: images up to level ${SFW_MAX_NSFW_LEVEL} (PG-13); unknown levels left out`;
}

/** error_samples.zip (image + JSON pairs, manifest.json, README.txt) for a channel, in memory. */
export function buildErrorSamplesZip(
  doc: AuditDocument,
  images: readonly SampleImage[],
  options: { nsfwChannel: boolean; withheld?: number; failed?: number },
): Buffer {
  const chunks: Uint8Array[] = [];
  const zip = new EvidenceZip(doc, nsfwRule(options.nsfwChannel), (c) => chunks.push(c));
  zip.summary.withheld = options.withheld ?? 0;
  zip.summary.failed = options.failed ?? 0;
  for (const s of images) zip.add(s.item, s.data);
  zip.finish();
  return Buffer.concat(chunks);
}

export type OmittedReason = 'tooLarge' | 'tooMany';

export interface AttachmentPlan {
  files: OutgoingFile[];
  omitted: Array<{ name: string; reason: OmittedReason }>;
  /** Set when error_samples.zip had to drop images to fit. */
  zipReduced: { kept: number; total: number } | null;
}

/**
 * Choose what to attach: metrics.csv, error_samples.zip (made by `zipOf`, shrunk to fit the
 * per-file limit), charts, then the rest (PDF before audit.json), at most 10 files and within the
 * request size; the rest is reported as omitted.
 */
export function planAttachments(
  serviceFiles: readonly AuditFile[],
  samples: readonly SampleImage[],
  perFileLimit: number,
  zipOf: (kept: readonly SampleImage[]) => Buffer = () => Buffer.alloc(0),
): AttachmentPlan {
  const omitted: AttachmentPlan['omitted'] = [];
  let zipReduced: AttachmentPlan['zipReduced'] = null;
  const candidates: OutgoingFile[] = [];
  const byPriority = [...serviceFiles]
    // The service's own error_samples.zip is never used: its images were not checked against this channel.
    .filter((f) => f.name !== 'error_samples.zip')
    .sort((a, b) => priority(a) - priority(b));
  const csv = byPriority.filter((f) => priority(f) === 0);
  const rest = byPriority.filter((f) => priority(f) !== 0);
  for (const f of csv) candidates.push({ name: f.name, data: f.data });
  if (samples.length > 0) {
    let kept = samples.length;
    let zip = zipOf(samples);
    while (zip.length > perFileLimit && kept > 0) {
      kept = Math.floor(kept / 2);
      zip = zipOf(samples.slice(0, kept));
    }
    if (kept === 0) omitted.push({ name: 'error_samples.zip', reason: 'tooLarge' });
    else {
      if (kept < samples.length) zipReduced = { kept, total: samples.length };
      candidates.push({ name: 'error_samples.zip', data: zip });
    }
  }
  for (const f of rest) candidates.push({ name: f.name, data: f.data });

  const files: OutgoingFile[] = [];
  let total = 0;
  for (const file of candidates) {
    if (file.data.length > perFileLimit || total + file.data.length > DiscordLimits.requestBytes) {
      omitted.push({ name: file.name, reason: 'tooLarge' });
    } else if (files.length >= DiscordLimits.filesPerMessage) {
      omitted.push({ name: file.name, reason: 'tooMany' });
    } else {
      files.push(file);
      total += file.data.length;
    }
  }
  return { files, omitted, zipReduced };
}

function priority(file: AuditFile): number {
  if (file.name.endsWith('.csv')) return 0;
  if (file.contentType.startsWith('image/')) return 2;
  if (file.name.endsWith('.pdf')) return 2.5;
  if (file.name.endsWith('.json')) return 4;
  return 3;
}

/** Chart images among the attached files (shown inside the embeds). */
export function chartNames(files: readonly OutgoingFile[], serviceFiles: readonly AuditFile[]): string[] {
  const images = new Set(serviceFiles.filter((f) => f.contentType.startsWith('image/')).map((f) => f.name));
  return files.filter((f) => images.has(f.name)).map((f) => f.name);
}
