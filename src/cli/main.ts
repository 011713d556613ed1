#!/usr/bin/env node
import { constants, createReadStream, realpathSync } from 'node:fs';
import { access, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import type { AuditResult } from '../analysis/audit/service.ts';
import type { ModelRecord } from '../analysis/civitai/record.ts';
import { AppError, ErrorCode, toAppError, UserInputError } from '../analysis/errors.ts';
import type { Logger } from '../analysis/ports.ts';
import { snippet } from '../analysis/text/snippet.ts';
import type { createAuditService } from '../app/create-audit-service.ts';
import type { AppConfig } from '../config.ts';
import type { DistanceFlags } from './distance.ts';
import type { BiasFlags, SelectionFlags } from './selection.ts';

/**
 * Modules loaded on first use, not at start-up: zod schemas, undici, pino, cli-progress and,
 * behind the audit service, onnxruntime-node, sharp and sqlite. Only commander and small
 * dependency-free modules load eagerly, so `loralens --help` starts about as fast as bare Node
 * (`npm run bench startup`).
 */
const load = {
  selection: () => import('./selection.ts'),
  render: () => import('./render.ts'),
  record: () => import('../analysis/civitai/record.ts'),
  service: () => import('../app/create-audit-service.ts'),
  logger: () => import('../app/logger.ts'),
  config: () => import('../config.ts'),
  storage: () => import('../storage/backend.ts'),
  distance: () => import('./distance.ts'),
  models: () => import('./models.ts'),
  scanText: () => import('./scan-text.ts'),
  tokenize: () => import('./tokenize.ts'),
};

/**
 * The selection flags (selection.ts's SELECTION_FLAG_KEYS, which loads zod schemas; kept equal to
 * it by tests/cli/startup.test.ts).
 */
export const SELECTION_KEYS = [
  'model',
  'top',
  'hash',
  'file',
  'types',
  'sort',
  'period',
  'from',
  'to',
  'nsfw',
  'baseModel',
] as const satisfies ReadonlyArray<keyof SelectionFlags>;

export interface RunFlags extends SelectionFlags, BiasFlags {
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

/** Options of every run (`crawl` and `audit`): what to fetch and where to write it. */
function addSelectionOptions(cmd: Command): Command {
  return cmd
    .option('--model <id|url>', 'one model: numeric id or https://civitai.com/models/<id> URL')
    .option('--top <N>', 'the top N models of the listing')
    .option('--hash <hash>', 'the model version whose file has this SHA256/AutoV2 hash')
    .option('--file <path>', 'a local .safetensors file (hashed locally, header read locally)')
    .option('--types <list>', '--top only: comma list of LORA, LoCon (LyCORIS), DoRA (default: all three)')
    .option('--sort <sort>', '--top only: "Most Downloaded" (default), "Highest Rated" or "Newest"')
    .option('--period <period>', '--top only: AllTime (default), Year, Month, Week, Day')
    .option('--from <YYYY-MM-DD>', '--top only: published on or after (default 2023-01-01)')
    .option('--to <YYYY-MM-DD>', '--top only: published on or before (default 2025-12-31)')
    .option('--nsfw', '--top only: include NSFW models in the listing', false)
    .option('--base-model <name...>', '--top only: only these base models (e.g. "SDXL 1.0" Pony)')
    .option('--out <dir>', 'output directory (created if missing)', 'out')
    .option('--no-comments', 'do not read comments and reviews')
    .addOption(new Option('--images-per-version <n>', 'sample images per version').default('20'))
    .addOption(
      new Option(
        '--max-nsfw-level <level>',
        'highest image level fetched: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX',
      ).default('2'),
    );
}

/** CLIP options: only `audit` scores images. */
function addClipOptions(cmd: Command): Command {
  return cmd
    .option(
      '--clip-threshold <cos>',
      'uncalibrated CLIP mode: flag images below this raw cosine (comparison only)',
    )
    .option(
      '--clip-alpha <a>',
      'calibrated CLIP mode: flag images not above the null (1-a) quantile (default 0.05)',
    )
    .option('--clip-null-k <k>', 'calibrated CLIP mode: shuffled prompts per image (default 99)')
    .option('--reference <dir>', 'bias metrics: compare every model with this folder of images')
    .option('--reference-model <id|url>', "bias metrics: compare every model with this model's images")
    .option('--seed <n>', 'bias metrics: seed of every bootstrap and subset draw (default 20240601)');
}

/** The selection flags the user actually gave (commander fills defaults in, e.g. `--nsfw` false). */
export function givenSelectionFlags(cmd: Command, flags: RunFlags): SelectionFlags {
  const given: SelectionFlags = {};
  for (const key of SELECTION_KEYS) {
    const source = cmd.getOptionValueSource(key);
    if (source !== undefined && source !== 'default' && flags[key] !== undefined) {
      Object.assign(given, { [key]: flags[key] });
    }
  }
  return given;
}

/**
 * Check `--out` before any crawling: it must be a directory, or a path that can be created as one
 * under a writable directory. Errors: INPUT_INVALID (user fault).
 */
export async function checkOutDir(out: string): Promise<string> {
  const target = resolve(out);
  const kind = await statKind(target);
  if (kind === 'file') {
    throw new UserInputError(
      `--out ${out} is a file, not a directory: give a directory (it is created if missing).`,
    );
  }
  if (kind === 'dir') {
    if (!(await writable(target))) throw new UserInputError(`--out ${out} is not writable.`);
    return target;
  }
  // Missing: the nearest existing ancestor must be a writable directory.
  let parent = dirname(target);
  let parentKind = await statKind(parent);
  while (parentKind === 'missing' && dirname(parent) !== parent) {
    parent = dirname(parent);
    parentKind = await statKind(parent);
  }
  if (parentKind === 'file') {
    throw new UserInputError(`--out ${out} cannot be created: ${parent} is a file, not a directory.`);
  }
  if (!(await writable(parent))) {
    throw new UserInputError(`--out ${out} cannot be created: ${parent} is not writable.`);
  }
  return target;
}

async function statKind(path: string): Promise<'file' | 'dir' | 'missing'> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await statKind(resolve(path))) === 'dir';
}

async function writable(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
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

/** Exit status of a process stopped by `signal` (128 + its number), as shells report it. */
const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Run `fn` with an audit service and its storage, closing both afterwards. SIGINT/SIGTERM abort
 * `signal`: no new request or model starts, the run settles (models in flight are not stored), and
 * only then are the service and the storage closed and the process exits 130/143. Closing the
 * storage under a running crawl would turn cache reads into failures and poison the cache. A
 * second signal exits at once.
 */
async function withService<T>(
  config: AppConfig,
  logger: Logger,
  fn: (svc: ReturnType<typeof createAuditService>, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const [{ openStorage }, { createAuditService }] = await Promise.all([load.storage(), load.service()]);
  const storage = openStorage(config.storeUrl);
  const svc = createAuditService({ config, storage, logger });
  const controller = new AbortController();
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (interrupted) {
      process.stderr.write('\nstopped at once; models in flight were not saved\n');
      process.exit(SIGNAL_EXIT[signal]);
    }
    interrupted = signal;
    process.stderr.write(
      '\ninterrupted; finishing in-flight work (press Ctrl-C again to stop at once). Finished models are cached and the next run resumes from them\n',
    );
    controller.abort(
      new AppError(ErrorCode.ABORTED, `interrupted by ${signal}`, {
        userMessage: 'The run was interrupted.',
      }),
    );
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  let result: T;
  try {
    result = await fn(svc, controller.signal);
  } catch (error) {
    throw interrupted ? controller.signal.reason : error;
  } finally {
    try {
      await svc.close();
    } finally {
      await storage.close();
    }
    if (interrupted) {
      const code = SIGNAL_EXIT[interrupted];
      // After the error has been reported (and a progress bar stopped) on the way out; the handlers
      // stay, so a second signal meanwhile still exits with the same status.
      setImmediate(() => process.exit(code));
    } else {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
  }
  if (interrupted) throw controller.signal.reason;
  return result;
}

/** The table printed after a crawl: one row per model, comment cells with a legend under them. */
function crawlTable(
  { commentsCell, commentsLegend, renderTable }: Awaited<ReturnType<typeof load.render>>,
  records: readonly ModelRecord[],
  hasApiKey: boolean,
): string {
  const comments = records.map((r) =>
    commentsCell(
      {
        status: r.comments.status,
        reason: r.comments.reason,
        read: r.comments.status === 'ok' ? r.comments.items.length : null,
      },
      hasApiKey,
    ),
  );
  const table = renderTable(
    ['id', 'name', 'type', 'versions', 'images', 'comments', 'train tags', 'published'],
    records.map((r, i) => [
      r.id,
      r.name,
      r.type,
      r.versions.length,
      r.versions.reduce((n, v) => n + v.images.length, 0),
      comments[i] ?? '',
      r.versions.some((v) => v.training?.tagFrequency) ? 'yes' : 'no',
      r.publishedAt?.slice(0, 10) ?? '',
    ]),
    36,
  );
  return [table, ...commentsLegend(comments)].join('\n');
}

/**
 * The table printed after an audit, then what the analyses ("analyses 3/3" in the progress) were,
 * what the verdicts mean, and the comment legend when comments were not read.
 */
function summaryTable(
  { ANALYSIS_LABELS, commentsCell, commentsLegend, renderTable }: Awaited<ReturnType<typeof load.render>>,
  result: AuditResult,
  hasApiKey: boolean,
): string {
  const comments = result.models.map((m) =>
    commentsCell(
      { status: m.commentsStatus, reason: m.commentsReason ?? null, read: m.commentsRead },
      hasApiKey,
    ),
  );
  const table = renderTable(
    ['id', 'name', 'type', 'versions', 'images', 'comments', 'train tags', 'verdict'],
    result.models.map((m, i) => [
      m.modelId,
      m.name,
      m.type,
      m.versionCount,
      m.imageCount,
      comments[i] ?? '',
      m.hasTrainingTags ? 'yes' : 'no',
      m.verdict,
    ]),
    36,
  );
  const analyses = result.analyses ?? [];
  return [
    table,
    ...(analyses.length > 0 ? ['analyses run on every model (the progress line counts them):'] : []),
    ...analyses.map((a) => `  ${a.padEnd(9)} ${ANALYSIS_LABELS[a] ?? ''}`.trimEnd()),
    'verdict: flagged = an analysis found possible tag errors; clean = measured, none found; unknown = nothing could be measured (verdict_reason in metrics.csv says why)',
    ...commentsLegend(comments),
  ].join('\n');
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
  const setup = async () => {
    const [{ loadConfig }, { createLogger }] = await Promise.all([load.config(), load.logger()]);
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
  ).action(async (flags: RunFlags, cmd: Command) => {
    const { selectionFromFlags } = await load.selection();
    const selection = selectionFromFlags(givenSelectionFlags(cmd, flags));
    const options = runOptions(flags);
    const out = await checkOutDir(flags.out);
    const { config, logger } = await setup();
    const render = await load.render();
    const { ModelRecord } = await load.record();
    const progress = render.createProgress(io.stderr);
    const collected = await withService(config, logger, (svc, signal) =>
      svc.crawl(selection, options, { onProgress: (e) => progress.update(e), signal }),
    ).finally(() => progress.stop());
    await mkdir(out, { recursive: true });
    const doc = {
      tool: { name: 'loralens', version: '0.1.0' },
      generatedAt: new Date().toISOString(),
      selection,
      notes: collected.notes,
      models: collected.records.map((r) => ModelRecord.parse(r)),
    };
    await writeFile(join(out, 'crawl.json'), `${JSON.stringify(doc, null, 2)}\n`);
    io.stdout.write(`${crawlTable(render, doc.models, config.civitaiApiKey !== undefined)}\n`);
    for (const note of collected.notes) io.stderr.write(`note: ${note}\n`);
    io.stderr.write(
      `${collected.records.length} model(s) (${collected.fromCache} from cache) → ${join(out, 'crawl.json')}\n`,
    );
  });

  addClipOptions(
    addSelectionOptions(
      program
        .command('audit')
        .description(
          'crawl and analyse; writes DIR/metrics.csv, audit.json, error_samples.zip, charts/, Detailed_Report.md, Executive_Summary_CN.pdf, Executive_Summary_EN.pdf, report.html',
        ),
    ),
  ).action(async (flags: RunFlags, cmd: Command) => {
    const { selectionFromFlags, biasOptionsFromFlags } = await load.selection();
    const selection = selectionFromFlags(givenSelectionFlags(cmd, flags));
    const options = { ...runOptions(flags), ...(await biasOptionsFromFlags(flags, isDirectory)) };
    const out = await checkOutDir(flags.out);
    const { config, logger } = await setup();
    const render = await load.render();
    const progress = render.createProgress(io.stderr);
    const { result, written } = await withService(config, logger, async (svc, signal) => {
      const audited = await svc.audit(selection, options, { onProgress: (e) => progress.update(e), signal });
      progress.stop();
      // The report module (charts, PDF) loads only when an audit has something to write.
      const { writeAuditOutputs } = await import('./outputs.ts');
      const files = await writeAuditOutputs(out, audited, {
        fetchImage: (url, s) => svc.fetchImage(url, s),
        logger,
        signal,
      });
      return { result: { ...audited, notes: [...audited.notes, ...files.notes] }, written: files.written };
    }).finally(() => progress.stop());
    io.stdout.write(`${summaryTable(render, result, config.civitaiApiKey !== undefined)}\n`);
    // Flagged models with their top findings, and why an unknown verdict is unknown.
    for (const m of result.models.filter((x) => x.verdict !== 'clean')) {
      io.stdout.write(`\n${m.modelId} ${m.name}: ${m.verdictLine}\n`);
      for (const f of m.findings.slice(0, 4)) {
        io.stdout.write(`  [${f.severity}] ${f.title}\n      ${snippet(f.evidence, 160)}\n`);
      }
      if (m.findings.length > 4) io.stdout.write(`  … ${m.findings.length - 4} more in audit.json\n`);
    }
    for (const note of result.notes) io.stderr.write(`note: ${note}\n`);
    io.stderr.write(`wrote ${written.join(', ')}\n`);
  });

  program
    .command('scan-text')
    .description('scan JSON lines {"id","text"} for user-reported tag errors; one JSON line out per line in')
    .argument('<file>', 'a .jsonl file, or - for standard input')
    .action(async (file: string) => {
      const input = file === '-' ? process.stdin : await openInput(file);
      const { runScanText } = await load.scanText();
      const { lines, errors } = await runScanText(input, io.stdout);
      io.stderr.write(`scanned ${lines} line(s), ${errors} malformed\n`);
    });

  program
    .command('distance')
    .description(
      'FID, KID and CMMD between two feature sets (JSON arrays of equal-length number arrays); prints one JSON object',
    )
    .argument('<a.json>', 'first set')
    .argument('<b.json>', 'second set')
    .option('--subsets <n>', 'KID: number of random subset pairs', '100')
    .option('--subset-size <n>', 'KID: rows per subset (at most the smaller set)', '1000')
    .option('--seed <n>', 'KID: seed of the subset draws', '0')
    .action(async (a: string, b: string, flags: DistanceFlags) => {
      const { runDistance } = await load.distance();
      await runDistance(a, b, flags, io);
    });

  program
    .command('tokenize')
    .description(
      'CLIP-tokenize JSON lines {"text"} from standard input (ids as CLIP tokenize, context 77, truncate)',
    )
    .option('--vocab <path>', 'bpe_simple_vocab_16e6.txt.gz (default: the models directory)')
    .action(async (flags: { vocab?: string }) => {
      const { runTokenize } = await load.tokenize();
      await runTokenize(process.stdin, io.stdout, flags.vocab ? { vocabPath: flags.vocab } : {});
    });

  program
    .command('models')
    .description('download the model files into assets/models (sha256-checked, resumable), or verify them')
    .option('--check', 'verify what is on disk instead of downloading', false)
    .option('--variant <variant>', 'fp32 (default), quantized or all', 'fp32')
    .option('--trust-on-first-use', 'accept and record hashes for files the manifest does not pin', false)
    .action(async (flags: { check: boolean; variant: string; trustOnFirstUse: boolean }) => {
      const { runModels } = await load.models();
      const code = await runModels({
        check: flags.check,
        group: flags.variant,
        trustOnFirstUse: flags.trustOnFirstUse,
        stdout: io.stdout,
        stderr: io.stderr,
      });
      if (code !== 0) throw Object.assign(new CommanderError(code, 'loralens.models', ''), { silent: true });
    });

  program
    .command('worker')
    .description('run audit jobs from the shared Redis queue (REDIS_URL) until SIGTERM')
    .option('--concurrency <n>', 'audit jobs this process runs at once', '1')
    .action(async (flags: { concurrency: string }) => {
      const [{ loadConfig }, { createLogger }, { runWorkerCommand }] = await Promise.all([
        load.config(),
        load.logger(),
        import('./worker.ts'),
      ]);
      const config = loadConfig(io.env);
      // A worker logs at the configured level (the interactive commands quieten info to warn).
      await runWorkerCommand(config, createLogger(config.logLevel, [config.civitaiApiKey]), flags);
    });

  program
    .command('migrate')
    .description('copy every namespace of one store into another (sqlite:// ↔ redis://); safe to re-run')
    .requiredOption('--from <url>', 'source store, e.g. sqlite:///home/me/.loralens/loralens.sqlite')
    .requiredOption('--to <url>', 'target store, e.g. redis://127.0.0.1:6379')
    .action(async (flags: { from: string; to: string }) => {
      const { runMigrate } = await import('./migrate.ts');
      await runMigrate(flags, io);
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
    // The reader of our output went away (`loralens scan-text big.jsonl | head`): stop quietly.
    if (isBrokenPipe(error)) return EXIT.ok;
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      ) {
        return EXIT.ok;
      }
      // `models` has printed its own sentence and chose its exit code (1 network, 2 usage).
      if (error.code === 'loralens.models') return error.exitCode;
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

function isBrokenPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'EPIPE';
}

/**
 * When the reader of stdout (or stderr) closes early, exit 0 without a word, as ripgrep does.
 * (git is killed by SIGPIPE instead, 141 in the shell; Node ignores SIGPIPE, so a write fails
 * with EPIPE, which would otherwise surface as a stack trace.)
 */
export function exitQuietlyOnBrokenPipe(stream: NodeJS.WritableStream, exit: (code: number) => void): void {
  stream.on('error', (error: unknown) => {
    if (isBrokenPipe(error)) exit(EXIT.ok);
    else throw error;
  });
}

const isMain =
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(resolve(process.argv[1]))).href;
if (isMain) {
  for (const stream of [process.stdout, process.stderr])
    exitQuietlyOnBrokenPipe(stream, (c) => process.exit(c));
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
