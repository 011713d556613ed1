import { stringify } from 'csv-stringify/sync';
import { zipSync } from 'fflate';
import type { AuditFile, FlaggedImage } from '../../analysis/audit/service.ts';
import type { Logger } from '../../analysis/ports.ts';
import { DiscordLimits } from '../../commands/discord-limits.ts';
import type { OutgoingFile } from '../../commands/types.ts';

/** Highest Civitai nsfwLevel that may be shown in a channel that is not age-restricted (PG-13). */
export const SFW_MAX_NSFW_LEVEL = 2;

/** Whether an image may be posted in a channel; unknown levels (0, missing) count as unsafe. */
export function imageAllowed(image: Pick<FlaggedImage, 'nsfwLevel'>, nsfwChannel: boolean): boolean {
  if (nsfwChannel) return true;
  return image.nsfwLevel >= 1 && image.nsfwLevel <= SFW_MAX_NSFW_LEVEL;
}

export interface SampleImage {
  image: FlaggedImage;
  data: Buffer;
  fileName: string;
}

export interface ErrorSamples {
  /** Images that may be attached in this channel and could be downloaded. */
  images: SampleImage[];
  withheld: number;
  failed: number;
}

/** Download the flagged images this channel may see (age-restricted channels see all). */
export async function collectErrorSamples(
  flagged: readonly FlaggedImage[],
  nsfwChannel: boolean,
  fetchImage: (url: string, signal?: AbortSignal) => Promise<Buffer>,
  logger: Logger,
  maxImages = 50,
): Promise<ErrorSamples> {
  const allowed = flagged.filter((img) => imageAllowed(img, nsfwChannel));
  const withheld = flagged.length - allowed.length;
  const images: SampleImage[] = [];
  let failed = 0;
  for (const image of allowed.slice(0, maxImages)) {
    try {
      const data = await fetchImage(image.url, AbortSignal.timeout(20_000));
      images.push({
        image,
        data,
        fileName: `${image.modelId}-${image.versionId}-${image.imageId}${extension(data)}`,
      });
    } catch (error) {
      failed++;
      logger.warn({ err: error, url: image.url }, 'flagged image download failed');
    }
  }
  return { images, withheld, failed };
}

function extension(data: Buffer): string {
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return '.png';
  if (data[0] === 0xff && data[1] === 0xd8) return '.jpg';
  if (
    data.subarray(0, 4).toString('latin1') === 'RIFF' &&
    data.subarray(8, 12).toString('latin1') === 'WEBP'
  ) {
    return '.webp';
  }
  if (data.subarray(0, 3).toString('latin1') === 'GIF') return '.gif';
  return '.bin';
}

/** error_samples.zip with an index.csv (model, version, image, nsfw level, reason, file). */
export function buildErrorSamplesZip(images: readonly SampleImage[]): Buffer {
  const rows = images.map((s) => [
    s.image.modelId,
    s.image.versionId,
    s.image.imageId,
    s.image.nsfwLevel,
    s.image.reason,
    s.fileName,
    s.image.url,
  ]);
  const index = stringify(rows, {
    header: true,
    columns: ['model_id', 'version_id', 'image_id', 'nsfw_level', 'reason', 'file', 'url'],
  });
  const entries: Record<string, [Uint8Array, { level: 0 | 6 }]> = {
    'index.csv': [new TextEncoder().encode(index), { level: 6 }],
  };
  // Images are already compressed: store them.
  for (const s of images) entries[`images/${s.fileName}`] = [new Uint8Array(s.data), { level: 0 }];
  return Buffer.from(zipSync(entries));
}

export type OmittedReason = 'tooLarge' | 'tooMany';

export interface AttachmentPlan {
  files: OutgoingFile[];
  omitted: Array<{ name: string; reason: OmittedReason }>;
  /** Set when error_samples.zip had to drop images to fit. */
  zipReduced: { kept: number; total: number } | null;
}

/**
 * Choose what to attach: metrics.csv, error_samples.zip (shrunk to fit the per-file limit), charts,
 * then the rest, at most 10 files and within the request size; the rest is reported as omitted.
 */
export function planAttachments(
  serviceFiles: readonly AuditFile[],
  samples: readonly SampleImage[],
  perFileLimit: number,
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
    let zip = buildErrorSamplesZip(samples);
    while (zip.length > perFileLimit && kept > 0) {
      kept = Math.floor(kept / 2);
      zip = buildErrorSamplesZip(samples.slice(0, kept));
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
  if (file.name.endsWith('.json')) return 4;
  return 3;
}

/** Chart images among the attached files (shown inside the embeds). */
export function chartNames(files: readonly OutgoingFile[], serviceFiles: readonly AuditFile[]): string[] {
  const images = new Set(serviceFiles.filter((f) => f.contentType.startsWith('image/')).map((f) => f.name));
  return files.filter((f) => images.has(f.name)).map((f) => f.name);
}
