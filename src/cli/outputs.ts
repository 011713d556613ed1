import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AuditResult } from '../analysis/audit/service.ts';
import type { Logger } from '../analysis/ports.ts';
import { buildReport, REPORT_FILES } from '../report/build.ts';
import { highestLevel } from '../report/view.ts';
import { evidenceItems, writeErrorSamplesZip, type ZipSink } from '../report/zip.ts';

export interface WriteOutputsDeps {
  fetchImage: (url: string, signal?: AbortSignal) => Promise<Buffer>;
  logger: Logger;
  signal?: AbortSignal;
}

/** A ZIP sink on a file, waiting for the stream to drain (the ZIP is never whole in memory). */
function fileSink(path: string): ZipSink {
  const stream = createWriteStream(path);
  const failed = new Promise<never>((_, reject) => stream.once('error', reject));
  failed.catch(() => {});
  return {
    async write(chunk) {
      if (!stream.write(chunk))
        await Promise.race([new Promise<void>((r) => stream.once('drain', () => r())), failed]);
    },
    async end() {
      await Promise.race([new Promise<void>((r) => stream.end(() => r())), failed]);
    },
  };
}

/**
 * Write every audit file into `out`: metrics.csv and audit.json (from the service), charts/*.png,
 * Detailed_Report.md, the executive summaries, report.html and error_samples.zip (images up to the
 * run's --max-nsfw-level). Returns the paths written and notes about files that could not be made.
 */
export async function writeAuditOutputs(
  out: string,
  result: AuditResult,
  deps: WriteOutputsDeps,
): Promise<{ written: string[]; notes: string[] }> {
  const written: string[] = [];
  await mkdir(out, { recursive: true });
  for (const file of result.files) {
    await writeFile(join(out, file.name), file.data);
    written.push(join(out, file.name));
  }
  const report = await buildReport(result.document);
  for (const file of report.files) {
    const path = join(out, file.name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.data);
    written.push(path);
  }
  const maxLevel = highestLevel(result.document.options.maxBrowsingLevel);
  const zipPath = join(out, REPORT_FILES.zip);
  const summary = await writeErrorSamplesZip(
    result.document,
    evidenceItems(result.document),
    {
      allow: (image) => image.nsfwLevel >= 1 && image.nsfwLevel <= maxLevel,
      nsfwRule: `images up to Civitai level ${maxLevel} (--max-nsfw-level ${maxLevel}); unknown levels left out`,
      source: async (item) => {
        try {
          const timeout = AbortSignal.timeout(20_000);
          return await deps.fetchImage(
            item.image.url,
            deps.signal ? AbortSignal.any([deps.signal, timeout]) : timeout,
          );
        } catch (error) {
          deps.logger.warn({ err: error, url: item.image.url }, 'evidence image download failed');
          return null;
        }
      },
    },
    fileSink(zipPath),
  );
  written.push(zipPath);
  const notes = [...report.notes];
  if (summary.failed > 0)
    notes.push(
      `${summary.failed} evidence image(s) could not be downloaded; error_samples.zip lists what it holds.`,
    );
  return { written, notes };
}
