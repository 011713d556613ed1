#!/usr/bin/env node
import { createReadStream, realpathSync } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import type { AuditResult } from '../analysis/audit/service.ts';
import { ModelRecord } from '../analysis/civitai/record.ts';
import { toAppError, UserInputError } from '../analysis/errors.ts';
import type { Logger } from '../analysis/ports.ts';
import { createAuditService } from '../app/create-audit-service.ts';
import { createLogger } from '../app/logger.ts';
import { type AppConfig, loadConfig } from '../config.ts';
import { openStorage } from '../storage/backend.ts';
import { runModels } from './models.ts';
import { createProgress, renderTable } from './render.ts';
import { runScanText } from './scan-text.ts';
import { type SelectionFlags, selectionFromFlags } from './selection.ts';
import { runTokenize } from './tokenize.ts';

export interface RunFlags extends SelectionFlags {
  out: string;
  comments: boolean;
  imagesPerVersion: string;
  maxNsfwLevel: string;
  clipThreshold?: string;
  clipAlpha?: string;
  clipNullK?: string;
}

/** Exit codes: 0 ok, 1 failure (network, Civitai, internal), 2 bad input or configuration. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

function addSelectionOptions(cmd: Command): Command {
  return cmd
    .option('--model <id|url>', 'one model: numeric id or https://civitai.com/models/<id> URL')
    .option('--top <N>', 'the top N models of the listing')
    .option('--hash <hash>', 'the model version whose file has this SHA256/AutoV2 hash')
    .option('--file <path>', 'a local .safetensors file (hashed locally, header read locally)')
    .option('--types <list>', 'comma list of LORA, LoCon (LyCORIS), DoRA (default: all three)')
    .option('--sort <sort>', '"Most Downloaded" (default), "Highest Rated" or "Newest"')
    .option('--period <period>', 'AllTime (default), Year, Month, Week, Day')
    .option('--from <YYYY-MM-DD>', 'published on or after (default 2023-01-01)')
    .option('--to <YYYY-MM-DD>', 'published on or before (default 2025-12-31)')
    .option('--nsfw', 'include NSFW models in the listing', false)
    .option('--base-model <name...>', 'only these base models (e.g. "SDXL 1.0" Pony)')
    .option('--out <dir>', 'output directory', 'out')
    .option('--no-comments', 'do not read comments and reviews')
    .addOption(new Option('--images-per-version <n>', 'sample images per version').default('20'))
    .option(
      '--clip-threshold <cos>',
      'uncalibrated CLIP mode: flag images below this raw cosine (comparison only)',
    )
    .option(
      '--clip-alpha <a>',
      'calibrated CLIP mode: flag images not above the null (1-a) quantile (default 0.05)',
    )
    .option('--clip-null-k <k>', 'calibrated CLIP mode: shuffled prompts per image (default 99)')
    .addOption(
      new Option(
        '--max-nsfw-level <level>',
        'highest image level fetched: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX',
      ).default('2'),
    );
}

/** Validate the run flags shared by `crawl` and `audit` (a usage CommanderError names the bad flag). */
export function runOptions(flags: RunFlags) {
  const images = Number(flags.imagesPerVersion);
  const level = Number(flags.maxNsfwLevel);
  if (!Number.isInteger(images) || images < 0 || images > 200) {
    throw toUserError(
      `--images-per-version must be a whole number from 0 to 200, not "${flags.imagesPerVersion}".`,
    );
  }
  if (![1, 2, 4, 8, 16].includes(level)) {
    throw toUserError(`--max-nsfw-level must be 1, 2, 4, 8 or 16, not "${flags.maxNsfwLevel}".`);
  }
  let clipThreshold: number | undefined;
  if (flags.clipThreshold !== undefined) {
    clipThreshold = Number(flags.clipThreshold);
    if (!Number.isFinite(clipThreshold) || clipThreshold < -1 || clipThreshold > 1) {
      throw toUserError(`--clip-threshold must be a cosine between -1 and 1, not "${flags.clipThreshold}".`);
    }
  }
  let clipAlpha: number | undefined;
  if (flags.clipAlpha !== undefined) {
    clipAlpha = Number(flags.clipAlpha);
    if (!(clipAlpha > 0 && clipAlpha < 1)) {
      throw toUserError(
        `--clip-alpha must be a number between 0 and 1 (exclusive), not "${flags.clipAlpha}".`,
      );
    }
  }
  let clipNullK: number | undefined;
  if (flags.clipNullK !== undefined) {
    clipNullK = Number(flags.clipNullK);
    if (!Number.isInteger(clipNullK) || clipNullK < 1 || clipNullK > 10_000) {
      throw toUserError(`--clip-null-k must be a whole number from 1 to 10000, not "${flags.clipNullK}".`);
    }
  }
  if (clipThreshold !== undefined && (clipAlpha !== undefined || clipNullK !== undefined)) {
    throw toUserError(
      '--clip-threshold (uncalibrated) cannot be combined with --clip-alpha or --clip-null-k.',
    );
  }
  return {
    comments: flags.comments,
    imagesPerVersion: images,
    maxBrowsingLevel: level,
    ...(clipThreshold === undefined ? {} : { clipThreshold }),
    ...(clipAlpha === undefined ? {} : { clipAlpha }),
    ...(clipNullK === undefined ? {} : { clipNullK }),
  };
}

function toUserError(message: string) {
  return Object.assign(new CommanderError(EXIT.usage, 'loralens.usage', message), { userSentence: message });
}

async function withService<T>(
  config: AppConfig,
  logger: Logger,
  fn: (svc: ReturnType<typeof createAuditService>, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const storage = openStorage(config.storeUrl);
  const svc = createAuditService({ config, storage, logger });
  const controller = new AbortController();
  const stopOnSignal = (): void => {
    process.stderr.write('\ninterrupted; progress so far is cached and the next run resumes from it\n');
    // Abort in-flight requests first so closing does not wait for them.
    controller.abort(new Error('interrupted'));
    void svc.close().finally(() => storage.close().finally(() => process.exit(130)));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    return await fn(svc, controller.signal);
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await svc.close();
    await storage.close();
  }
}

function summaryTable(result: AuditResult): string {
  return renderTable(
    ['id', 'name', 'type', 'versions', 'images', 'comments', 'train tags', 'verdict'],
    result.models.map((m) => [
      m.modelId,
      m.name,
      m.type,
      m.versionCount,
      m.imageCount,
      m.commentsRead ?? `${m.commentCount}*`,
      m.hasTrainingTags ? 'yes' : 'no',
      m.verdict,
    ]),
    36,
  );
}

/** Build the `loralens` program; `io` is injectable so tests run it in-process. */
export function buildProgram(io: {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}): Command {
  const program = new Command('loralens')
    .description('Audit Civitai LoRA / LyCORIS / DoRA models for training-tag errors.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  const setup = () => {
    const config = loadConfig(io.env);
    const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, [
      config.civitaiApiKey,
    ]);
    return { config, logger };
  };

  addSelectionOptions(
    program
      .command('crawl')
      .description('fetch models, versions, images, comments and training tags into DIR/crawl.json'),
  ).action(async (flags: RunFlags) => {
    const selection = selectionFromFlags(flags);
    const options = runOptions(flags);
    const { config, logger } = setup();
    const progress = createProgress(io.stderr);
    const collected = await withService(config, logger, (svc, signal) =>
      svc.crawl(selection, options, { onProgress: (e) => progress.update(e), signal }),
    ).finally(() => progress.stop());
    const out = resolve(flags.out);
    await mkdir(out, { recursive: true });
    const doc = {
      tool: { name: 'loralens', version: '0.1.0' },
      generatedAt: new Date().toISOString(),
      selection,
      notes: collected.notes,
      models: collected.records.map((r) => ModelRecord.parse(r)),
    };
    await writeFile(join(out, 'crawl.json'), `${JSON.stringify(doc, null, 2)}\n`);
    io.stdout.write(
      `${renderTable(
        ['id', 'name', 'type', 'versions', 'images', 'comments', 'train tags', 'published'],
        collected.records.map((r) => [
          r.id,
          r.name,
          r.type,
          r.versions.length,
          r.versions.reduce((n, v) => n + v.images.length, 0),
          r.comments.status === 'ok' ? r.comments.items.length : r.comments.status,
          r.versions.some((v) => v.training?.tagFrequency) ? 'yes' : 'no',
          r.publishedAt?.slice(0, 10) ?? '',
        ]),
        36,
      )}\n`,
    );
    for (const note of collected.notes) io.stderr.write(`note: ${note}\n`);
    io.stderr.write(
      `${collected.records.length} model(s) (${collected.fromCache} from cache) → ${join(out, 'crawl.json')}\n`,
    );
  });

  addSelectionOptions(
    program.command('audit').description('crawl and analyse; writes DIR/metrics.csv and DIR/audit.json'),
  ).action(async (flags: RunFlags) => {
    const selection = selectionFromFlags(flags);
    const options = runOptions(flags);
    const { config, logger } = setup();
    const progress = createProgress(io.stderr);
    const result = await withService(config, logger, (svc, signal) =>
      svc.audit(selection, options, { onProgress: (e) => progress.update(e), signal }),
    ).finally(() => progress.stop());
    const out = resolve(flags.out);
    await mkdir(out, { recursive: true });
    for (const file of result.files) await writeFile(join(out, file.name), file.data);
    io.stdout.write(`${summaryTable(result)}\n`);
    if (result.models.some((m) => m.commentsStatus !== 'ok')) {
      io.stdout.write("* comment count from Civitai's model stats: comments and reviews were not read\n");
    }
    const flagged = result.models.filter((m) => m.verdict === 'flagged');
    for (const m of flagged) {
      io.stdout.write(`\n${m.modelId} ${m.name}: ${m.verdictLine}\n`);
      for (const f of m.findings.slice(0, 4)) {
        io.stdout.write(
          `  [${f.severity}] ${f.title}\n      ${f.evidence.replace(/\s+/g, ' ').slice(0, 160)}\n`,
        );
      }
      if (m.findings.length > 4) io.stdout.write(`  … ${m.findings.length - 4} more in audit.json\n`);
    }
    for (const note of result.notes) io.stderr.write(`note: ${note}\n`);
    io.stderr.write(`wrote ${result.files.map((f) => join(out, f.name)).join(', ')}\n`);
  });

  program
    .command('scan-text')
    .description('scan JSON lines {"id","text"} for user-reported tag errors; one JSON line out per line in')
    .argument('<file>', 'a .jsonl file, or - for standard input')
    .action(async (file: string) => {
      const input = file === '-' ? process.stdin : await openInput(file);
      const { lines, errors } = await runScanText(input, io.stdout);
      io.stderr.write(`scanned ${lines} line(s), ${errors} malformed\n`);
    });

  program
    .command('tokenize')
    .description(
      'CLIP-tokenize JSON lines {"text"} from standard input (ids as CLIP tokenize, context 77, truncate)',
    )
    .option('--vocab <path>', 'bpe_simple_vocab_16e6.txt.gz (default: the models directory)')
    .action(async (flags: { vocab?: string }) => {
      await runTokenize(process.stdin, io.stdout, flags.vocab ? { vocabPath: flags.vocab } : {});
    });

  program
    .command('models')
    .description('download the model files into assets/models (sha256-checked, resumable), or verify them')
    .option('--check', 'verify what is on disk instead of downloading', false)
    .option('--variant <variant>', 'fp32 (default), quantized or all', 'fp32')
    .option('--trust-on-first-use', 'accept and record hashes for files the manifest does not pin', false)
    .action(async (flags: { check: boolean; variant: string; trustOnFirstUse: boolean }) => {
      const code = await runModels({
        check: flags.check,
        group: flags.variant,
        trustOnFirstUse: flags.trustOnFirstUse,
        stdout: io.stdout,
        stderr: io.stderr,
      });
      if (code !== 0) throw Object.assign(new CommanderError(code, 'loralens.models', ''), { silent: true });
    });

  return program;
}

async function openInput(file: string): Promise<NodeJS.ReadableStream> {
  try {
    await access(file);
  } catch {
    throw new UserInputError(`Cannot read ${file}: no such file.`);
  }
  return createReadStream(file);
}

/** Run the CLI and return the exit code; user errors are one sentence, never a stack trace. */
export async function runCli(
  argv: readonly string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream; env: NodeJS.ProcessEnv } = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  },
): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      ) {
        return EXIT.ok;
      }
      const sentence = (error as { userSentence?: string }).userSentence;
      if (sentence) io.stderr.write(`error: ${sentence}\n`);
      return EXIT.usage;
    }
    const appError = toAppError(error);
    if (appError.userFault) {
      io.stderr.write(`error: ${appError.userMessage}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`error: ${appError.userMessage}\n`);
    if (appError.code === 'INTERNAL') {
      // A bug, not a user or network problem: show where, so it can be reported.
      io.stderr.write(`${(appError.cause as Error | undefined)?.stack ?? appError.stack ?? ''}\n`);
    } else if (io.env.LOG_LEVEL === 'debug') {
      io.stderr.write(`detail: [${appError.code}] ${appError.message}\n`);
    }
    return EXIT.failure;
  }
}

const isMain =
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(resolve(process.argv[1]))).href;
if (isMain) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
