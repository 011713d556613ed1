import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { Agent, type Dispatcher } from 'undici';
import { isAppError, UserInputError } from '../analysis/errors.ts';
import { checkModelFile, downloadModelFile } from '../analysis/models/downloader.ts';
import { loadModelManifest, selectModelFiles } from '../analysis/models/manifest.ts';
import type { Logger } from '../analysis/ports.ts';

export const DEFAULT_MODELS_DIR = fileURLToPath(new URL('../../assets/models/', import.meta.url));
export const DEFAULT_MANIFEST = fileURLToPath(new URL('../../assets/models/manifest.json', import.meta.url));

export interface RunModelsOptions {
  /** Verify what is on disk instead of downloading. */
  check?: boolean;
  /** Manifest group: `fp32` (default), `quantized` or `all`. */
  group?: string;
  trustOnFirstUse?: boolean;
  dir?: string;
  manifestPath?: string;
  /** Where files marked `bundled` in the manifest live (default: the package's assets/models). */
  bundledDir?: string;
  /** Injected for tests; by default one undici Agent for this command. */
  dispatcher?: Dispatcher;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Waits between resume attempts (injected by tests; default 500 ms × attempt). */
  sleep?: (ms: number) => Promise<void>;
  /** Progress bar on stderr (default: when stderr is a TTY). */
  progressBar?: boolean;
  logger?: Logger;
}

function formatMiB(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function bundledProblem(file: string, path: string, status: string): string {
  const what = status === 'missing' ? 'is missing' : `does not match the manifest (${status})`;
  return `${file} ships with loralens, but ${path} ${what}; restore it from the package (e.g. \`git checkout assets/models\`).`;
}

/**
 * `npm run models` / `loralens models [--check] [--variant fp32|quantized|all] [--trust-on-first-use]`:
 * download (resumable, sha256-checked) or verify the model files of the manifest; files marked
 * `bundled` (the CLIP vocabulary) ship with the package and are only verified. Returns the exit code
 * (0 all good, 1 a download/check failed); throws INPUT_INVALID for an unknown group.
 */
export async function runModels(options: RunModelsOptions = {}): Promise<number> {
  const out = options.stdout ?? process.stdout;
  const err = options.stderr ?? process.stderr;
  const dir = options.dir ?? DEFAULT_MODELS_DIR;
  const group = options.group ?? 'fp32';
  const manifest = await loadModelManifest(options.manifestPath ?? DEFAULT_MANIFEST);
  const files = selectModelFiles(manifest, group);
  if (files.length === 0) {
    const groups = [...new Set(manifest.files.flatMap((f) => f.groups))].join(', ');
    throw new UserInputError(`Unknown model variant "${group}": use one of ${groups} or all.`);
  }

  const bundledDir = options.bundledDir ?? DEFAULT_MODELS_DIR;
  if (options.check) {
    let bad = 0;
    for (const f of files) {
      const c = await checkModelFile(f, f.bundled ? bundledDir : dir);
      if (c.status !== 'ok') bad += 1;
      out.write(
        `${c.status === 'ok' ? 'ok      ' : 'PROBLEM '} ${f.file}  ${c.status}${c.sha256 ? `  sha256=${c.sha256}` : ''}\n`,
      );
    }
    out.write(
      bad === 0
        ? `All ${files.length} model files verified.\n`
        : `${bad} model file(s) need \`npm run models\`.\n`,
    );
    return bad === 0 ? 0 : 1;
  }

  const ownDispatcher = options.dispatcher ? null : new Agent({ connections: 2 });
  const dispatcher = options.dispatcher ?? ownDispatcher!;
  const showBar = options.progressBar ?? Boolean((err as NodeJS.WriteStream).isTTY);
  let failures = 0;
  try {
    for (const f of files) {
      if (f.bundled) {
        const c = await checkModelFile(f, bundledDir);
        if (c.status === 'ok') {
          out.write(
            `ok       ${f.file}  ${formatMiB(c.size ?? 0)}  sha256=${c.sha256} (ships with loralens)\n`,
          );
        } else {
          failures += 1;
          err.write(`FAILED   ${f.file}: ${bundledProblem(f.file, join(bundledDir, f.file), c.status)}\n`);
        }
        continue;
      }
      const bar = showBar
        ? new SingleBar({
            format: `${f.file} [{bar}] {percentage}% {value}/{total} bytes`,
            stream: err as NodeJS.WriteStream,
          })
        : null;
      bar?.start(f.size ?? 0, 0);
      try {
        const r = await downloadModelFile(f, {
          dir,
          dispatcher,
          trustOnFirstUse: options.trustOnFirstUse ?? false,
          ...(options.logger ? { logger: options.logger } : {}),
          ...(options.sleep ? { sleep: options.sleep } : {}),
          onProgress: (e) => {
            if (bar) {
              if (e.total > 0) bar.setTotal(e.total);
              bar.update(e.done);
            }
          },
        });
        bar?.stop();
        const note =
          r.outcome === 'trusted-on-first-use'
            ? ' (unpinned: hash recorded in trusted-hashes.json)'
            : r.outcome === 'already-present'
              ? ' (already present)'
              : '';
        out.write(`ok       ${f.file}  ${formatMiB(r.size)}  sha256=${r.sha256}${note}\n`);
      } catch (error) {
        bar?.stop();
        failures += 1;
        const sentence = isAppError(error) ? error.userMessage : String(error);
        err.write(`FAILED   ${f.file}: ${sentence}\n`);
      }
    }
  } finally {
    await ownDispatcher?.close();
  }
  out.write(failures === 0 ? `Model files are ready in ${dir}\n` : `${failures} model file(s) failed.\n`);
  return failures === 0 ? 0 : 1;
}
