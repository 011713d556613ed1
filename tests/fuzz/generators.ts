import { existsSync, readFileSync } from 'node:fs';
import { stringify as devalueStringify } from 'devalue';
import fc from 'fast-check';

/**
 * Input generators for the fuzz targets (tests/fuzz/targets.ts). Each mixes ordinary inputs with
 * hostile ones (deep nesting, huge attributes, entity soup, long unpunctuated text, long tags), so
 * the short seeded run in `npm test` meets them too.
 */

export const SHARED_DIR = new URL('../../../shared/', import.meta.url);

/** A real recorded Civitai response from ../shared, or undefined when the checkout has none. */
export function sharedJson(relative: string): unknown {
  const url = new URL(relative, SHARED_DIR);
  return existsSync(url) ? (JSON.parse(readFileSync(url, 'utf8')) as unknown) : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Text

const WORDS = [
  'the',
  'tag',
  'tags',
  'trigger',
  'word',
  'wrong',
  'mislabeled',
  'caption',
  'captions',
  'images',
  'tagged',
  'incorrectly',
  'not',
  'my',
  'fault',
  'prompt',
  'lora',
  'style',
  'works',
  'great',
  'hair',
  'blue',
  'red',
  'eyes',
  '1girl',
  'solo',
  'masterpiece',
  'タグが間違っています',
  '标签错误',
  '잘못된 태그',
  'falsche',
  'Tags',
  'etiqueta',
  'incorrecta',
];

/** Words joined by spaces without sentence punctuation (scanText's quadratic case). */
export const unpunctuatedText = fc
  .record({
    words: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 40 }),
    repeat: fc.nat(3000),
  })
  .map(({ words, repeat }) => Array.from({ length: repeat + 1 }, () => words.join(' ')).join(' '));

const prose = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...WORDS) },
      { weight: 1, arbitrary: fc.constantFrom('.', '!', '?', '。', '\n', ',', ';', '…', '"', '(', ')') },
      { weight: 1, arbitrary: fc.string({ maxLength: 12, unit: 'grapheme' }) },
    ),
    { maxLength: 300 },
  )
  .map((parts) => parts.join(' '));

export const anyText = fc.oneof(
  { weight: 3, arbitrary: prose },
  { weight: 2, arbitrary: fc.string({ maxLength: 400, unit: 'grapheme' }) },
  // Any UTF-16 code units, lone surrogates included (fc's 'binary' unit takes seconds to build).
  {
    weight: 1,
    arbitrary: fc
      .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 400 })
      .map((u) => String.fromCharCode(...u)),
  },
  { weight: 1, arbitrary: unpunctuatedText },
);

// ---------------------------------------------------------------------------------------------------
// HTML

const TAGS = [
  'p',
  'div',
  'span',
  'b',
  'strong',
  'i',
  'em',
  'a',
  'ul',
  'ol',
  'li',
  'blockquote',
  'pre',
  'code',
  'table',
  'tr',
  'td',
  'h1',
  'h3',
  'br',
  'hr',
  'img',
  'script',
  'style',
  'iframe',
  'svg',
  'math',
  'template',
  'noscript',
  'textarea',
  'option',
  'select',
  'details',
];

export const ENTITIES = [
  '&lt;',
  '&gt;',
  '&amp;',
  '&quot;',
  '&#39;',
  '&#x3c;',
  '&#60;',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '&lt;img src=x onerror=alert(1)&gt;',
  '&lt;@everyone&gt;',
  '&nbsp;',
  '&#0;',
  '&#xD800;',
  '&#99999999;',
  '&amp;lt;',
  '&',
  '&#',
  '&#x',
  '&unknown;',
  '&NotANamedEntity',
  '&CounterClockwiseContourIntegral;',
  '&lt',
];

const attrValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'https://civitai.com/models/1',
    'http://127.0.0.1/',
    '"><script>alert(1)</script>',
  ),
);
const attr = fc
  .tuple(fc.constantFrom('href', 'onclick', 'onerror', 'style', 'src', 'title', 'data-x', 'class'), attrValue)
  .map(([k, v]) => ` ${k}="${v}"`);
const openTag = fc
  .tuple(fc.constantFrom(...TAGS), fc.array(attr, { maxLength: 3 }))
  .map(([t, a]) => `<${t}${a.join('')}>`);
const closeTag = fc.constantFrom(...TAGS).map((t) => `</${t}>`);
const htmlToken = fc.oneof(
  { weight: 3, arbitrary: openTag },
  { weight: 3, arbitrary: closeTag },
  { weight: 2, arbitrary: fc.constantFrom(...ENTITIES) },
  { weight: 4, arbitrary: fc.string({ maxLength: 30, unit: 'grapheme' }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '<!-- c -->',
      '<![CDATA[x]]>',
      '<',
      '</',
      '<a href="',
      '<!DOCTYPE html>',
      '<?xml ?>',
      '>',
    ),
  },
);
const htmlSoup = fc.array(htmlToken, { maxLength: 200 }).map((t) => t.join(''));

/** `depth` nested tags (html-to-text and turndown recurse once per level). */
export const deepHtml = fc
  .record({
    tag: fc.constantFrom('div', 'b', 'span', 'blockquote', 'li', 'p', 'em', 'ul'),
    depth: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1000, max: 20_000 })),
    closed: fc.boolean(),
    text: fc.string({ maxLength: 20 }),
  })
  .map(
    ({ tag, depth, closed, text }) =>
      `${`<${tag}>`.repeat(depth)}${text}${closed ? `</${tag}>`.repeat(depth) : ''}`,
  );

const hugeAttribute = fc
  .record({ length: fc.integer({ min: 1_000, max: 500_000 }), ch: fc.constantFrom('a', '&', '"', ' ', '<') })
  .map(({ length, ch }) => `<p><a href="https://civitai.com/${ch.repeat(length)}">link</a></p>`);

const entitySoup = fc.array(fc.constantFrom(...ENTITIES), { maxLength: 5_000 }).map((e) => e.join(''));

/** A big but ordinary description (size caps: a 5 MB description took 15 s and 1.39 GB). */
const hugeDescription = fc
  .record({ paragraphs: fc.integer({ min: 100, max: 20_000 }), text: prose })
  .map(({ paragraphs, text }) => `<p>${text}</p>\n`.repeat(paragraphs));

export const html = fc.oneof(
  { weight: 8, arbitrary: htmlSoup },
  { weight: 2, arbitrary: deepHtml },
  { weight: 1, arbitrary: hugeAttribute },
  { weight: 1, arbitrary: entitySoup },
  { weight: 1, arbitrary: hugeDescription },
);

// ---------------------------------------------------------------------------------------------------
// JSON mutation (Civitai responses)

type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

function paths(value: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  out.push(prefix);
  // Mutations land in the first levels and first 2 000 places: enough, and cheap next to deep values.
  if (out.length > 2_000 || prefix.length > 12) return out;
  if (Array.isArray(value)) for (const [i, v] of value.entries()) paths(v, [...prefix, i], out);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

const MUTATIONS = ['delete', 'replace', 'null', 'huge-string', 'type-flip', 'deep', 'proto'] as const;
type Mutation = (typeof MUTATIONS)[number];

function nest(depth: number): JsonValue {
  let v: JsonValue = 'x';
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

/** Apply mutations at pseudo-randomly chosen paths of a JSON document (a deep copy). */
export function mutateJson(
  base: unknown,
  mutations: ReadonlyArray<readonly [number, Mutation, JsonValue]>,
): unknown {
  const root = { root: structuredClone(base) as JsonValue } as Record<string, JsonValue>;
  for (const [pick, kind, value] of mutations) {
    const all = paths(root.root, ['root']);
    const path = all[pick % all.length] as Array<string | number>;
    let parent: Record<string | number, JsonValue> = root;
    for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, JsonValue>;
    const key = path.at(-1) as string | number;
    const current = parent[key];
    switch (kind) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
        break;
      case 'replace':
        parent[key] = value;
        break;
      case 'null':
        parent[key] = null;
        break;
      case 'huge-string':
        parent[key] = 'x'.repeat(100_000);
        break;
      case 'type-flip':
        parent[key] =
          typeof current === 'number'
            ? String(current)
            : typeof current === 'string'
              ? Number(current.length)
              : Array.isArray(current)
                ? { 0: current[0] ?? null }
                : current && typeof current === 'object'
                  ? [current]
                  : { value: current ?? null };
        break;
      case 'deep':
        parent[key] = nest(2_000);
        break;
      case 'proto':
        if (current && typeof current === 'object' && !Array.isArray(current))
          Object.defineProperty(current, '__proto__', {
            value: { polluted: true },
            enumerable: true,
            configurable: true,
            writable: true,
          });
        break;
    }
  }
  return root.root;
}

export const jsonMutations = fc.array(
  fc.tuple(fc.nat(), fc.constantFrom(...MUTATIONS), fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>),
  { maxLength: 8 },
);

/** Real documents mutated, plus arbitrary JSON. */
export function mutatedDocuments(documents: readonly unknown[]): fc.Arbitrary<unknown> {
  const real = documents.filter((d) => d !== undefined);
  const mutated =
    real.length === 0
      ? fc.jsonValue()
      : fc.tuple(fc.constantFrom(...real), jsonMutations).map(([doc, muts]) => mutateJson(doc, muts));
  return fc.oneof({ weight: 6, arbitrary: mutated }, { weight: 1, arbitrary: fc.jsonValue() });
}

// ---------------------------------------------------------------------------------------------------
// tRPC bodies (superjson and devalue)

const commentLike = fc.record({
  id: fc.oneof(fc.integer(), fc.string({ maxLength: 5 })),
  createdAt: fc.oneof(fc.constant('2025-01-01T00:00:00.000Z'), fc.string({ maxLength: 30 })),
  content: fc.oneof(html, fc.constant(null)),
  hidden: fc.oneof(fc.boolean(), fc.constant(null)),
  user: fc.oneof(fc.record({ id: fc.integer(), username: fc.string({ maxLength: 20 }) }), fc.constant(null)),
});

const payload = fc.record(
  {
    nextCursor: fc.oneof(fc.integer(), fc.constant(null), fc.string({ maxLength: 5 })),
    comments: fc.array(commentLike, { maxLength: 5 }),
    items: fc.array(commentLike, { maxLength: 5 }),
  },
  { requiredKeys: [] },
);

const SUPERJSON_TYPES = [
  'Date',
  'map',
  'set',
  'bigint',
  'regexp',
  'undefined',
  'number',
  'Error',
  'URL',
  'symbol',
] as const;
const metaPath = fc
  .array(
    fc.oneof(fc.constantFrom('comments', '0', 'createdAt', 'items', '__proto__', 'constructor', 'prototype')),
    {
      minLength: 1,
      maxLength: 4,
    },
  )
  .map((p) => p.join('.'));
const superjsonMeta = fc.record(
  {
    values: fc.dictionary(
      metaPath,
      fc.oneof(
        fc.constantFrom(...SUPERJSON_TYPES).map((t) => [t]),
        fc.tuple(fc.constantFrom('class', 'custom', 'symbol', 'typed-array'), fc.string({ maxLength: 10 })),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      { maxKeys: 4 },
    ),
    referentialEqualities: fc.dictionary(metaPath, fc.array(metaPath, { maxLength: 3 }), { maxKeys: 3 }),
  },
  { requiredKeys: [] },
);

const devalueText = fc.oneof(
  payload.map((p) => devalueStringify(p)),
  fc
    .tuple(
      payload.map((p) => devalueStringify(p)),
      fc.array(fc.tuple(fc.nat(), fc.string({ maxLength: 4 })), { maxLength: 4 }),
    )
    .map(([text, edits]) => {
      let s = text;
      for (const [at, insert] of edits) {
        const i = at % (s.length + 1);
        s = s.slice(0, i) + insert + s.slice(i + 1);
      }
      return s;
    }),
  fc.integer({ min: 1, max: 50_000 }).map((n) => `${'['.repeat(n)}1${']'.repeat(n)}`),
  fc.array(fc.integer({ min: -10, max: 10 }), { minLength: 1, maxLength: 50 }).map((a) => JSON.stringify(a)),
  fc.string({ maxLength: 50 }),
);

export const trpcBody = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ json: payload, meta: superjsonMeta }).map((data) => ({ result: { data } })),
  },
  { weight: 2, arbitrary: payload.map((json) => ({ result: { data: { json } } })) },
  { weight: 3, arbitrary: devalueText.map((data) => ({ result: { data } })) },
  { weight: 1, arbitrary: fc.jsonValue().map((error) => ({ error })) },
  { weight: 1, arbitrary: fc.jsonValue() },
  { weight: 1, arbitrary: fc.jsonValue().map((data) => [{ result: { data } }]) },
);

// ---------------------------------------------------------------------------------------------------
// Training tags (kohya __metadata__)

const TAG_POOL = [
  '1girl',
  '1boy',
  'solo',
  'long hair',
  'short hair',
  'blue hair',
  'red hair',
  'blonde hair',
  'blue eyes',
  'red eyes',
  'smile',
  'looking at viewer',
  'soraka',
  'sks',
  'ohwx',
  'masterpiece',
  'simple background',
  'white background',
  'holding staff',
  'horns',
];

/** A "tag" that is really a caption: long, with spaces (16 384+ characters hung the analysis). */
export const longTag = fc
  .record({
    words: fc.array(fc.constantFrom(...TAG_POOL), { minLength: 1, maxLength: 8 }),
    length: fc.integer({ min: 200, max: 40_000 }),
  })
  .map(({ words, length }) => {
    const unit = `${words.join(' ')} `;
    return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
  });

const tag = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...TAG_POOL) },
  { weight: 4, arbitrary: fc.string({ maxLength: 30, unit: 'grapheme' }) },
  { weight: 1, arbitrary: longTag },
);
const tagCounts = fc.dictionary(tag, fc.oneof(fc.integer({ min: 0, max: 500 }), fc.integer(), fc.double()), {
  maxKeys: 40,
});
const folderName = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 100 }), fc.constantFrom('soraka', 'style', 'sks woman', ''))
    .map(([n, s]) => `${n}_${s}`),
  fc.string({ maxLength: 20 }),
);
const tagFrequency = fc.dictionary(folderName, tagCounts, { maxKeys: 4 });

export const kohyaMetadata = fc.record(
  {
    ss_tag_frequency: fc.oneof(
      { weight: 6, arbitrary: tagFrequency.map((t) => JSON.stringify(t)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
      { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    ),
    ss_dataset_dirs: fc.oneof(
      fc
        .dictionary(
          folderName,
          fc.record({
            n_repeats: fc.oneof(fc.integer(), fc.string({ maxLength: 4 })),
            img_count: fc.oneof(fc.integer(), fc.double()),
          }),
          { maxKeys: 4 },
        )
        .map((d) => JSON.stringify(d)),
      fc.string({ maxLength: 20 }),
    ),
    ss_datasets: fc.oneof(
      fc
        .array(
          fc.record(
            {
              tag_frequency: tagFrequency,
              num_train_images: fc.oneof(fc.integer(), fc.string({ maxLength: 4 })),
              subsets: fc.array(
                fc.record(
                  {
                    img_count: fc.oneof(fc.integer(), fc.constant(null)),
                    num_repeats: fc.oneof(fc.integer(), fc.string({ maxLength: 3 })),
                    image_dir: fc.oneof(folderName, fc.constant(null)),
                    class_tokens: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(null)),
                    is_reg: fc.boolean(),
                    keep_tokens: fc.integer(),
                    shuffle_caption: fc.boolean(),
                  },
                  { requiredKeys: [] },
                ),
                { maxLength: 3 },
              ),
            },
            { requiredKeys: [] },
          ),
          { maxLength: 3 },
        )
        .map((d) => JSON.stringify(d)),
      fc.string({ maxLength: 20 }),
    ),
    ss_num_train_images: fc.oneof(fc.integer().map(String), fc.string({ maxLength: 5 })),
    ss_output_name: fc.string({ maxLength: 20 }),
  },
  { requiredKeys: [] },
);

export const trainedWords = fc.array(
  fc.record({
    versionId: fc.integer({ min: 1, max: 10 }),
    versionName: fc.string({ maxLength: 10 }),
    trainedWords: fc.array(fc.oneof(tag, fc.constant(null), fc.integer()), { maxLength: 6 }),
  }),
  { maxLength: 3 },
);

// ---------------------------------------------------------------------------------------------------
// safetensors files

function withLength(json: string, declared?: bigint): Uint8Array {
  const body = Buffer.from(json, 'utf8');
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(declared ?? BigInt(body.length));
  return new Uint8Array(Buffer.concat([head, body]));
}

const headerJson = fc
  .record({
    metadata: fc.oneof(
      kohyaMetadata as fc.Arbitrary<Record<string, unknown>>,
      fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 })),
      fc.constant(null),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    tensors: fc.nat(5),
  })
  .map(({ metadata, tensors }) => {
    const header: Record<string, unknown> = {};
    for (let i = 0; i < tensors; i++)
      header[`lora_unet_${i}.weight`] = { dtype: 'F16', shape: [4, 4], data_offsets: [i * 32, i * 32 + 32] };
    if (metadata !== null) header.__metadata__ = metadata;
    return JSON.stringify(header);
  });

export const safetensorsBytes = fc.oneof(
  { weight: 4, arbitrary: headerJson.map((j) => withLength(j)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(headerJson, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }))
      .map(([j, n]) => withLength(j, n)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        headerJson,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.option(fc.nat()),
      )
      .map(([j, flips, cut]) => {
        const bytes = withLength(j);
        for (const [at, b] of flips) bytes[at % bytes.length] = b;
        return cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => withLength(`${'['.repeat(n)}${']'.repeat(n)}`)),
  },
);

// ---------------------------------------------------------------------------------------------------
// Prompts

const PROMPT_TOKENS = [
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ':',
  '|',
  ',',
  '\\',
  '\\(',
  '<lora:soraka_v1:0.8>',
  '<lyco:x:1>',
  '<hypernet:h:0.3>',
  'BREAK',
  'ADDCOMM',
  'embedding:easynegative',
  'EasyNegative',
  ':1.2',
  '1.5',
  'masterpiece',
  'best quality',
  '1girl',
  'solo',
  'soraka',
  '[cat:dog:0.5]',
  '[a|b|c]',
  '__wildcard__',
  '\n',
  ' ',
];

export const prompt = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.array(fc.constantFrom(...PROMPT_TOKENS), { maxLength: 400 }).map((t) => t.join('')),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 300, unit: 'grapheme' }) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        open: fc.constantFrom('(', '[', '{', '<lora:', '[a:'),
        depth: fc.integer({ min: 1, max: 50_000 }),
      })
      .map(({ open, depth }) => `${open.repeat(depth)}x`),
  },
  { weight: 1, arbitrary: fc.constantFrom(...ENTITIES).chain((e) => fc.nat(3000).map((n) => e.repeat(n))) },
);

// ---------------------------------------------------------------------------------------------------
// Command options

const numberish = fc.oneof(
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom('0', '-1', '1e3', '0x10', ' 5 ', '5.0', 'NaN', 'Infinity', '', '9'.repeat(400), '１２'),
  fc.string({ maxLength: 8 }),
);
const dateish = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  fc.constantFrom('2024-02-30', '2024-13-01', '0000-00-00', '+20000-01-01', '2024-1-1', ' 2024-01-01 '),
  fc.string({ maxLength: 12 }),
);
const FLAGS = [
  '--model',
  '--top',
  '--hash',
  '--file',
  '--types',
  '--sort',
  '--period',
  '--from',
  '--to',
  '--nsfw',
  '--base-model',
  '--out',
  '--no-comments',
  '--images-per-version',
  '--max-nsfw-level',
  '--clip-threshold',
  '--clip-alpha',
  '--clip-null-k',
] as const;
const flagValue = fc.oneof(
  numberish,
  dateish,
  fc.constantFrom(
    'LORA',
    'lora,dora',
    'LoCon,Checkpoint',
    'newest',
    'Most Downloaded',
    'Week',
    'https://civitai.com/models/11821?modelVersionId=5',
    '../../etc/passwd',
  ),
  fc.string({ maxLength: 30, unit: 'grapheme' }),
);

export const cliArgv = fc
  .tuple(
    fc.constantFrom('audit', 'crawl'),
    fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...FLAGS), flagValue).map(([f, v]) => [f, v]) },
        { weight: 1, arbitrary: fc.constantFrom(...FLAGS).map((f) => [f]) },
        {
          weight: 1,
          arbitrary: fc.tuple(fc.constantFrom(...FLAGS), flagValue).map(([f, v]) => [`${f}=${v}`]),
        },
        { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map((s) => [s]) },
      ),
      { maxLength: 8 },
    ),
  )
  .map(([cmd, parts]) => [cmd, ...parts.flat()]);

const snowflake = fc.oneof(
  fc.bigInt({ min: 10n ** 16n, max: 10n ** 19n }).map(String),
  fc.string({ maxLength: 25 }),
);
const optionValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 290, maxLength: 310 }),
  snowflake,
  fc.constantFrom(
    'all',
    'LORA',
    'LoCon',
    'DoRA',
    'AllTime',
    'Week',
    'Newest',
    'mon',
    'sun',
    'UTC',
    'Asia/Tokyo',
    'Mars/Olympus',
  ),
);

export const botInteraction = fc.record({
  command: fc.constantFrom('audit', 'subscribe', 'unsubscribe', 'subscriptions'),
  subcommand: fc.oneof(fc.constantFrom('model', 'top'), fc.constant(null), fc.string({ maxLength: 8 })),
  options: fc.dictionary(
    fc.oneof(
      fc.constantFrom('model', 'n', 'period', 'types', 'sort', 'channel', 'day', 'hour', 'timezone'),
      fc.string({ maxLength: 8 }),
    ),
    optionValue,
    { maxKeys: 7 },
  ),
  resolvedType: fc.constantFrom(0, 2, 4, 5, 13),
  sameGuild: fc.boolean(),
  locale: fc.constantFrom('en-US', 'ja', 'zh-CN', 'xx', ''),
});

// ---------------------------------------------------------------------------------------------------
// CSV rows and ZIP entries

const cell = fc.oneof(
  fc.string({ maxLength: 40, unit: 'grapheme' }),
  fc.constantFrom('=1+1', '+cmd', '-2', '@SUM(A1)', '\tx', '\rx', 'a,b', 'a"b', 'line\nbreak', '"', ''),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
);
export const csvRows = fc.record({
  rows: fc.array(
    fc
      .tuple(
        fc.constantFrom('model', 'version', 'finding', 'x'),
        fc.dictionary(
          fc.oneof(fc.constantFrom('model_id', 'model_name', 'tag_error_text'), fc.string({ maxLength: 10 })),
          cell,
          {
            maxKeys: 8,
          },
        ),
      )
      .map(([rowType, rest]) => ({ ...rest, row_type: rowType })),
    { maxLength: 20 },
  ),
  extra: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
});

export const zipImages = fc.uniqueArray(
  fc.record({
    modelId: fc.integer({ min: 0, max: 2_000_000 }),
    versionId: fc.integer({ min: 0, max: 2_000_000 }),
    imageId: fc.integer({ min: 0, max: 200_000_000 }),
    nsfwLevel: fc.constantFrom(0, 1, 2, 4, 8, 16, 31),
    reason: fc.string({ maxLength: 60, unit: 'grapheme' }),
    url: fc.oneof(fc.webUrl(), fc.string({ maxLength: 40 })),
    data: fc.uint8Array({ maxLength: 2_000 }),
    ext: fc.constantFrom('.png', '.jpg', '.webp', '.gif', '.bin'),
  }),
  { maxLength: 12, selector: (i) => `${i.modelId}-${i.versionId}-${i.imageId}${i.ext}` },
);
