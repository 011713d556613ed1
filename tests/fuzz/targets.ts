import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import type { z } from 'zod';
import type { Model, ModelsPage } from '../../src/analysis/civitai/schemas.ts';
import type { ClipTokenizer } from '../../src/analysis/clip/tokenizer.ts';
import type { analyzeTrainingTags } from '../../src/analysis/training/tag-analysis.ts';
import type { AuditRunner } from '../../src/bot/audit-runner.ts';
import type { SampleImage } from '../../src/bot/report/attachments.ts';
import type { RunFlags } from '../../src/cli/main.ts';
import type { JobRequest } from '../../src/commands/ports.ts';
import type { CommandDeps, OptionValue } from '../../src/commands/types.ts';
import * as gen from './generators.ts';

/**
 * Every parser and analysis entry point the fuzzer drives. `arbitrary` runs in the main thread
 * (inputs are structured-cloned to the worker); `prepare` and `run` run in the worker thread, and
 * `prepare` imports the code under test (so a worker loads only what its target needs).
 * `run` returns normally (ok), throws an AppError (typed, fine), or throws anything else (a bug);
 * an {@link InvariantError} is a bug too: the call "worked" but its output broke a stated property.
 */
export interface FuzzTarget<I = unknown, S = unknown> {
  name: string;
  /** The entry points exercised, for the report. */
  entry: string;
  arbitrary(): fc.Arbitrary<I>;
  /** Run once in the worker before timing starts (module init and JIT are not an input's cost). */
  warmup?: I;
  /** Worker-side setup; a string return means "skip this target" with that reason. */
  prepare?(): Promise<S | string>;
  run(input: I, state: S): unknown | Promise<unknown>;
}

/** A broken output property (e.g. live HTML in Markdown); always counted as a bug. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new InvariantError(message);
}

/** A live tag the sanitiser must never let through: script-ish element, event handler, script URL. */
function unsafeTag(html: string): string | undefined {
  for (const m of html.matchAll(/<([a-zA-Z][^\s/>]*)([^>]*)>/g)) {
    const [tag, name = '', attrs = ''] = m;
    if (/^(script|iframe|object|embed|style|svg|math|template|noscript|textarea|img)$/i.test(name))
      return tag;
    // Attribute names and values as a browser tokenises them (text inside a quoted value is not an attribute).
    for (const a of attrs.matchAll(/([^\s"'=<>`/]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?/g)) {
      const attr = (a[1] ?? '').toLowerCase();
      const value = (a[2] ?? '').replace(/^["']|["']$/g, '').replace(/&#0*58;|&colon;/gi, ':');
      if (attr.startsWith('on')) return tag;
      if ((attr === 'href' || attr === 'src') && /^\s*(javascript|data|vbscript):/i.test(value)) return tag;
    }
  }
  return undefined;
}

/** Markup a Markdown renderer (or Discord) would treat as live HTML: `<tag`, `</`, `<!` not escaped. */
const LIVE_TAG = /(?<!\\)<[a-zA-Z/!?]/;

/**
 * Markdown with the contents of fenced code blocks and code spans blanked: CommonMark renders them
 * literally (no HTML, no entity decoding), so `<img …>` there is text, not live markup. A code
 * span is a run of N backticks closed by the next run of exactly N.
 */
function outsideCode(md: string): string {
  const blank = (m: string) => m.replace(/[^\n]/g, ' ');
  return md
    .replace(/^(```+|~~~+)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, blank)
    .replace(/(?<!`)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, blank);
}

const target = <I, S = undefined>(t: FuzzTarget<I, S>): FuzzTarget<unknown, unknown> =>
  t as unknown as FuzzTarget<unknown, unknown>;

const URL_BASE = 'https://civitai.com/api/v1/fuzz';

const modules = {
  cli: async () => {
    const [main, selection, types, crawl] = await Promise.all([
      import('../../src/cli/main.ts'),
      import('../../src/cli/selection.ts'),
      import('../../src/analysis/audit/types.ts'),
      import('../../src/analysis/civitai/crawl.ts'),
    ]);
    return {
      buildProgram: main.buildProgram,
      runOptions: main.runOptions,
      givenSelectionFlags: main.givenSelectionFlags,
      selectionFromFlags: selection.selectionFromFlags,
      AuditSelection: types.AuditSelection,
      parseModelRef: crawl.parseModelRef,
    };
  },
  html: () => import('../../src/analysis/civitai/html.ts'),
};

export const TARGETS: readonly FuzzTarget[] = [
  target({
    name: 'cli-argv',
    warmup: ['audit', '--top', '5', '--types', 'lora', '--from', '2024-01-01'],
    entry: 'commander options of `audit`/`crawl` → selectionFromFlags, runOptions, parseModelRef',
    arbitrary: () => gen.cliArgv,
    prepare: modules.cli,
    async run(argv: string[], m) {
      const out = new PassThrough();
      out.resume();
      const io = { stdout: out, stderr: out as unknown as NodeJS.WriteStream, env: {} };
      const program = m.buildProgram(io);
      for (const name of ['audit', 'crawl']) {
        program.commands
          .find((c) => c.name() === name)
          ?.action((flags: RunFlags, cmd: Parameters<typeof m.givenSelectionFlags>[0]) => {
            // As the CLI does: only the flags the user gave, not commander's defaults (`--nsfw` false).
            const selection = m.selectionFromFlags(m.givenSelectionFlags(cmd, flags));
            check(
              m.AuditSelection.safeParse(selection).success,
              'selectionFromFlags returned an invalid selection',
            );
            m.runOptions(flags);
            if (selection.kind === 'model') m.parseModelRef(selection.ref, ['127.0.0.1:8080']);
          });
      }
      await program.parseAsync(argv, { from: 'user' });
    },
  }),

  target<BotInput, BotState>({
    name: 'bot-options',
    warmup: {
      command: 'audit',
      subcommand: 'top',
      options: { n: 5 },
      resolvedType: 0,
      sameGuild: true,
      locale: 'en-US',
    },
    entry: 'slash-command option schemas: /audit, /subscribe, /unsubscribe, /subscriptions execute()',
    arbitrary: () => gen.botInteraction as fc.Arbitrary<BotInput>,
    async prepare() {
      const [
        { openStorage },
        { createSubscriptionsStore },
        { createFeedbackStore },
        commands,
        types,
        ports,
        clockMod,
        ctxMod,
      ] = await Promise.all([
        import('../../src/storage/backend.ts'),
        import('../../src/storage/subscriptions-store.ts'),
        import('../../src/storage/feedback-store.ts'),
        import('../../src/commands/index.ts'),
        import('../../src/analysis/audit/types.ts'),
        import('../../src/analysis/ports.ts'),
        import('../bot/support/manual-clock.ts'),
        import('../commands/support/fake-context.ts'),
      ]);
      const storage = openStorage('memory://');
      const submitted: JobRequest[] = [];
      // Only the option parsing is under test: the runner records what reached it.
      const runner = {
        busy: () => null,
        async submit(request: JobRequest) {
          submitted.push(request);
          if (submitted.length > 100) submitted.shift();
          return { accepted: true, key: 'fuzz', position: 0, shared: false };
        },
      } as unknown as AuditRunner;
      const deps = {
        runner,
        subscriptions: createSubscriptionsStore(storage),
        feedback: createFeedbackStore(storage, { disputeThreshold: 2 }),
        poster: {
          send: async (channelId: string) => ({ id: 'p', channelId }),
          addReaction: async () => {},
          channelInfo: async (id: string) => ({ id, nsfw: false, guildId: '500000000000000001' }),
        },
        scheduler: { changed: () => {} },
        deliver: () => ({ deliver: async () => {}, fail: async () => {} }),
        clock: new clockMod.ManualClock(Date.UTC(2026, 2, 2, 10)),
        logger: ports.silentLogger,
        report: { feedbackEmoji: '❌', feedbackItems: 5, progressIntervalMs: 2000 },
      } as unknown as CommandDeps;
      return {
        deps,
        submitted,
        findCommand: commands.findCommand,
        AuditSelection: types.AuditSelection,
        FakeContext: ctxMod.FakeContext,
      };
    },
    async run(input, state) {
      const command = state.findCommand(input.command);
      check(command !== undefined, `no command ${input.command}`);
      const channel = typeof input.options.channel === 'string' ? input.options.channel : '';
      const ctx = new state.FakeContext({
        commandName: input.command,
        subcommand: input.subcommand,
        options: input.options,
        locale: input.locale,
        resolvedChannels: channel
          ? {
              [channel]: {
                id: channel,
                type: input.resolvedType,
                guildId: input.sameGuild ? '500000000000000001' : '500000000000000002',
              },
            }
          : {},
      });
      const before = state.submitted.length;
      await command?.execute(ctx, state.deps);
      check(ctx.sent.length > 0, 'the command answered nothing');
      const submitted = state.submitted.at(-1);
      if (state.submitted.length !== before && submitted)
        check(
          state.AuditSelection.safeParse(submitted.selection).success,
          'an invalid selection reached the runner',
        );
    },
  }),

  target({
    name: 'civitai-json',
    warmup: ['Model', { id: 1, name: 'x', type: 'LORA', modelVersions: [] }],
    entry:
      'zod schemas (Model, ModelsPage, ModelVersionDetail, ImagesPage) via HttpClient.parse, then crawl helpers',
    arbitrary: () =>
      fc.tuple(
        fc.constantFrom('Model', 'ModelsPage', 'ModelVersionDetail', 'ImagesPage'),
        gen.mutatedDocuments([
          gen.sharedJson('fixtures/civitai/model-11821-lora.json'),
          gen.sharedJson('fixtures/civitai/model-1580878-lora-illustrious.json'),
          gen.sharedJson('fixtures/civitai/model-version-1448477-lora-illustrious.json'),
          gen.sharedJson('fixtures/civitai/models-lora-11821-page1.json'),
          gen.sharedJson('fixtures/civitai/models-checkpoint-limit3-cursor.json'),
        ]),
      ),
    async prepare() {
      const [{ HttpClient }, schemas, crawl, { Agent }] = await Promise.all([
        import('../../src/analysis/civitai/http.ts'),
        import('../../src/analysis/civitai/schemas.ts'),
        import('../../src/analysis/civitai/crawl.ts'),
        import('undici'),
      ]);
      // No request is ever made: HttpClient.parse is the validation step every response goes through.
      return {
        http: new HttpClient({ dispatcher: new Agent(), baseUrl: 'https://civitai.com' }),
        schemas,
        crawl,
      };
    },
    run([schemaName, body]: [string, unknown], { http, schemas, crawl }) {
      const { Model, ModelsPage, ModelVersionDetail, ImagesPage } = schemas;
      const named: Record<string, z.ZodType> = { Model, ModelsPage, ModelVersionDetail, ImagesPage };
      const schema = named[schemaName] as z.ZodType;
      // The fixtures differ in shape: try the named schema (its error is the outcome), then the model ones.
      for (const s of [schema, Model, ModelsPage]) {
        let parsed: unknown;
        try {
          parsed = http.parse(URL_BASE, s, body);
        } catch (error) {
          if (s === schema) throw error;
          continue;
        }
        const models = s === Model ? [parsed as Model] : s === ModelsPage ? (parsed as ModelsPage).items : [];
        for (const model of models) {
          crawl.modelFingerprint(model);
          crawl.modelPublishedAt(model);
          crawl.inDateWindow(model, '2023-01-01', '2025-12-31');
          for (const v of model.modelVersions)
            for (const [i, im] of (v.images ?? []).entries()) crawl.toSampleImage(im, i);
        }
        if (s === ImagesPage)
          for (const [i, im] of (parsed as z.infer<typeof ImagesPage>).items.entries())
            crawl.toSampleImage(im, i);
      }
    },
  }),

  target({
    name: 'trpc',
    warmup: ['comments', { result: { data: { json: { comments: [] } } } }],
    entry: 'unwrapTrpc: tRPC envelopes, superjson meta, devalue strings → comment/review/thread schemas',
    arbitrary: () => fc.tuple(fc.constantFrom('comments', 'reviews', 'thread'), gen.trpcBody),
    prepare: async () => ({
      ...(await import('../../src/analysis/civitai/trpc.ts')),
      ...(await import('../../src/analysis/civitai/schemas.ts')),
    }),
    run([which, body]: [string, unknown], m) {
      const schema =
        which === 'comments' ? m.CommentsPayload : which === 'reviews' ? m.ReviewsPayload : m.ThreadPayload;
      m.unwrapTrpc(URL_BASE, body, schema);
    },
  }),

  target({
    name: 'html-plain',
    warmup: '<p>The <b>trigger</b> &amp; tags</p>',
    entry: 'htmlToPlainText (sanitize-html + html-to-text)',
    arbitrary: () => gen.html,
    prepare: modules.html,
    run(html: string, m) {
      check(typeof m.htmlToPlainText(html) === 'string', 'not a string');
    },
  }),

  target({
    name: 'html-markdown',
    warmup: '<p>The <b>trigger</b> &amp; tags</p>',
    entry: 'htmlToMarkdown (sanitize-html + turndown); output must hold no live HTML',
    arbitrary: () => gen.html,
    prepare: modules.html,
    run(html: string, m) {
      const md = m.htmlToMarkdown(html);
      const live = LIVE_TAG.exec(outsideCode(md));
      check(
        live === null,
        `live HTML in Markdown at ${live?.index}: ${JSON.stringify(md.slice(live?.index ?? 0, (live?.index ?? 0) + 40))}`,
      );
    },
  }),

  target({
    name: 'html-sanitize',
    warmup: '<p>The <b>trigger</b> &amp; tags</p>',
    entry: 'sanitizeDescription; output must hold no script-ish tag, event handler or script URL',
    arbitrary: () => gen.html,
    prepare: modules.html,
    run(html: string, m) {
      const bad = unsafeTag(m.sanitizeDescription(html));
      check(bad === undefined, `unsafe markup survived: ${JSON.stringify(bad?.slice(0, 80))}`);
    },
  }),

  target({
    name: 'scan-text',
    warmup: 'The tags are wrong: the trigger word was mislabeled. タグが間違っています。',
    entry: 'scanText (tag-error-reports.ts) on comments; output must match its schema and its spans',
    arbitrary: () => gen.anyText,
    prepare: () => import('../../src/analysis/text/tag-error-reports.ts'),
    run(text: string, m) {
      const scan = m.scanText(text);
      check(m.TextScan.safeParse(scan).success, 'scanText output does not match TextScan');
      for (const e of scan.evidence)
        check(
          text.slice(e.start, e.end) === e.span,
          `evidence span ${e.start}..${e.end} does not match the text`,
        );
    },
  }),

  target({
    name: 'prompt-clean',
    warmup: '(masterpiece:1.2), 1girl, <lora:x:0.8> BREAK [a|b]',
    entry: 'cleanPrompt (A1111/ComfyUI prompt syntax)',
    arbitrary: () => gen.prompt,
    prepare: () => import('../../src/analysis/text/prompt-clean.ts'),
    run(prompt: string, m) {
      const out = m.cleanPrompt(prompt);
      check(typeof out.text === 'string' && Array.isArray(out.removed), 'bad CleanedPrompt');
    },
  }),

  target({
    name: 'clip-text',
    warmup: 'a photo of a &amp; cat',
    entry: 'clipCleanText, fixText, unescapeHtml (CLIP text cleaning)',
    arbitrary: () => fc.oneof(gen.anyText, gen.prompt, gen.html),
    prepare: () => import('../../src/analysis/clip/text-clean.ts'),
    run(text: string, m) {
      m.clipCleanText(text);
      m.fixText(text);
      m.unescapeHtml(text);
    },
  }),

  target<string, ClipTokenizer>({
    name: 'clip-tokenizer',
    warmup: 'a photo of a cat, masterpiece',
    entry: 'CLIP BPE tokenizer: tokenize, windows, encode/decode (the shipped vocabulary)',
    arbitrary: () => fc.oneof(gen.prompt, gen.anyText),
    async prepare() {
      const { loadClipTokenizer } = await import('../../src/analysis/clip/tokenizer.ts');
      const vocab = new URL('../../assets/models/bpe_simple_vocab_16e6.txt.gz', import.meta.url);
      try {
        return await loadClipTokenizer(vocab.pathname);
      } catch {
        return `no CLIP vocabulary at ${vocab.pathname}`;
      }
    },
    run(text, tok) {
      const t = tok.tokenize(text);
      check(t.ids.length === 77, `tokenize gave ${t.ids.length} ids`);
      for (const w of tok.windows(text)) check(w.ids.length === 77, `a window has ${w.ids.length} ids`);
      tok.decode(tok.encode(text).slice(0, 200));
    },
  }),

  target({
    name: 'safetensors',
    warmup: new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 123, 125]),
    entry: 'parseHeaderFromPrefix (u64 length + JSON header) → trainingFromHeader',
    arbitrary: () => gen.safetensorsBytes,
    prepare: async () => ({
      ...(await import('../../src/analysis/civitai/safetensors.ts')),
      ...(await import('../../src/analysis/civitai/crawl.ts')),
    }),
    run(bytes: Uint8Array, m) {
      const header = m.parseHeaderFromPrefix(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      m.trainingFromHeader(header, 1);
    },
  }),

  target({
    name: 'training-tags',
    warmup: {
      metadata: { ss_tag_frequency: '{"10_x":{"1girl":3,"solo":3}}' },
      trainedWordsByVersion: [],
      targetVersionId: undefined,
    },
    entry: 'analyzeTrainingTags (kohya ss_tag_frequency / ss_dataset_dirs / ss_datasets, trained words)',
    arbitrary: () =>
      fc.record({
        metadata: fc.oneof(
          { weight: 8, arbitrary: gen.kohyaMetadata },
          { weight: 1, arbitrary: fc.constant(null) },
        ),
        trainedWordsByVersion: gen.trainedWords,
        targetVersionId: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
      }),
    prepare: () => import('../../src/analysis/training/tag-analysis.ts'),
    run(input: Parameters<typeof analyzeTrainingTags>[0], m) {
      const report = m.analyzeTrainingTags(input);
      check(m.TrainingTagReport.safeParse(report).success, 'the report does not match TrainingTagReport');
    },
  }),

  target({
    name: 'metrics-csv',
    warmup: { rows: [{ row_type: 'model' }], extra: ['x'] },
    entry: 'renderMetricsCsv; parsing the CSV back must give the same cells',
    arbitrary: () => gen.csvRows,
    prepare: async () => ({
      ...(await import('../../src/analysis/audit/metrics-csv.ts')),
      parseCsv: (await import('csv-parse/sync')).parse,
    }),
    run(
      {
        rows,
        extra,
      }: {
        rows: Array<{ row_type: string } & Record<string, string | number | boolean | null>>;
        extra: string[];
      },
      m,
    ) {
      const text = m.renderMetricsCsv(rows, extra);
      const records = m.parseCsv(text) as string[][];
      check(
        records.length === rows.length + 1,
        `${records.length - 1} rows read back, ${rows.length} written`,
      );
      const header = records[0] as string[];
      check(new Set(header).size === header.length, 'duplicate column');
      for (const [r, row] of rows.entries()) {
        const got = records[r + 1] as string[];
        check(got.length === header.length, `row ${r} has ${got.length} cells for ${header.length} columns`);
        for (const [c, column] of header.entries()) {
          const v = Object.hasOwn(row, column) ? row[column] : undefined;
          const expected =
            v === null || v === undefined
              ? ''
              : typeof v === 'boolean'
                ? String(v)
                : typeof v === 'string' && /^[=+\-@\t\r]/.test(v)
                  ? `'${v}`
                  : String(v);
          check(
            got[c] === expected,
            `row ${r} column ${JSON.stringify(column)}: ${JSON.stringify(got[c])} ≠ ${JSON.stringify(expected)}`,
          );
        }
      }
    },
  }),

  target({
    name: 'samples-zip',
    warmup: [],
    entry:
      'buildErrorSamplesZip (image + JSON pairs, manifest.json); unzipping gives every image back under a safe unique name',
    arbitrary: () => gen.zipImages,
    prepare: async () => ({
      ...(await import('../../src/bot/report/attachments.ts')),
      doc: (await import('../report/fixture.ts')).fixtureAudit({ models: 1 }),
      unzipSync: (await import('fflate')).unzipSync,
    }),
    run(images: ZipInput[], m) {
      const samples: SampleImage[] = images.map((i) => ({
        item: {
          kind: 'low-match',
          image: {
            modelId: i.modelId,
            versionId: i.versionId,
            imageId: i.imageId,
            url: i.url,
            nsfwLevel: i.nsfwLevel,
            reason: i.reason,
            prompt: null,
          },
          modelName: i.reason,
          promptClean: null,
          scores: {},
          findingKeys: [],
        },
        data: Buffer.from(i.data),
      }));
      const files = m.unzipSync(
        new Uint8Array(m.buildErrorSamplesZip(m.doc, samples, { nsfwChannel: false })),
      );
      const manifest = JSON.parse(
        Buffer.from(files['manifest.json'] ?? new Uint8Array()).toString('utf8'),
      ) as {
        entries: Array<{ image: string; json: string }>;
      };
      check(
        manifest.entries.length === samples.length,
        `manifest lists ${manifest.entries.length} of ${samples.length} images`,
      );
      for (const name of Object.keys(files)) {
        check(
          /^[A-Za-z0-9][A-Za-z0-9.-]{0,95}$/.test(name) && !name.includes('..'),
          `unsafe entry name ${name}`,
        );
      }
      for (const [n, s] of samples.entries()) {
        const entry = manifest.entries[n];
        const got = entry ? files[entry.image] : undefined;
        check(got !== undefined && Buffer.from(got).equals(s.data), `image ${n} missing or changed`);
        const meta = entry ? files[entry.json] : undefined;
        const reason = meta
          ? (JSON.parse(Buffer.from(meta).toString('utf8')) as { reason: string }).reason
          : null;
        check(reason === s.item.image.reason, `image ${n}: its JSON lost the reason`);
      }
    },
  }),
];

interface ZipInput {
  modelId: number;
  versionId: number;
  imageId: number;
  nsfwLevel: number;
  reason: string;
  url: string;
  data: Uint8Array;
  ext: string;
}

interface BotInput {
  command: string;
  subcommand: string | null;
  options: Record<string, OptionValue>;
  resolvedType: number;
  sameGuild: boolean;
  locale: string;
}

interface BotState {
  deps: CommandDeps;
  submitted: JobRequest[];
  findCommand: typeof import('../../src/commands/index.ts').findCommand;
  AuditSelection: typeof import('../../src/analysis/audit/types.ts').AuditSelection;
  FakeContext: typeof import('../commands/support/fake-context.ts').FakeContext;
}

export function findTarget(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}
