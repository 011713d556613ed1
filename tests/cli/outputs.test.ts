import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import type { Analyzer, ModelAnalysis } from '../../src/analysis/audit/analyzer.ts';
import { buildAuditResult } from '../../src/analysis/audit/build.ts';
import { ModelRow } from '../../src/analysis/audit/metrics-csv.ts';
import { AuditRunOptions } from '../../src/analysis/audit/types.ts';
import { ModelRecord } from '../../src/analysis/civitai/record.ts';
import { demoCatalogue } from '../fixtures/demo/catalogue.ts';
import { emptyCatalogue } from '../support/catalogue.ts';
import { buildSafetensors, type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { runCliCaptured } from '../support/run-cli.ts';

// The demo catalogue is written for loralens (tests/fixtures/demo): no ../shared needed.
const LONG_REPORT_MODEL = 910002;
const filler = (word: string, n: number): string => Array.from({ length: n }, () => word).join(' ');
// The evidence sentence is cut to a bounded window, and its context falls inside "alphabet" and
// "omegaxyz" words: both cuts must land on word boundaries.
const LONG_COMMENT = `${filler('alphabet', 40)} the trigger word is wrong ${filler('omegaxyz', 40)}`;

let replay: CivitaiReplay;
const emptyModels = mkdtempSync(join(tmpdir(), 'loralens-nomodels-'));
before(async () => {
  const catalogue = demoCatalogue();
  const comments = catalogue.comments.get(LONG_REPORT_MODEL) ?? [];
  comments.push({ ...comments[0], id: 990001, content: `<p>${LONG_COMMENT}</p>` });
  catalogue.comments.set(LONG_REPORT_MODEL, comments);
  replay = await startCivitaiReplay({ catalogue });
});
after(() => replay.close());

const tmp = () => mkdtempSync(join(tmpdir(), 'loralens-cli-out-'));
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  CIVITAI_BASE_URL: replay.url,
  LORALENS_STORE_URL: 'memory://',
  LORALENS_MODELS_DIR: emptyModels,
  CIVITAI_RATE_PER_SECOND: '200',
  LOG_LEVEL: 'silent',
  ...extra,
});
const csvRows = (out: string) =>
  parse(readFileSync(join(out, 'metrics.csv')), { columns: true }) as Array<Record<string, string>>;

describe('metrics.csv verdict and verdict_reason', () => {
  test('every model row has a verdict and a reason naming what measured and what could not', async () => {
    const out = tmp();
    const r = await runCliCaptured(['audit', '--top', '5', '--out', out], env());
    assert.equal(r.code, 0, r.stderr);
    const rows = csvRows(out);
    const header = readFileSync(join(out, 'metrics.csv'), 'utf8').split('\n')[0]?.split(',') ?? [];
    assert.deepEqual(
      header.slice(header.indexOf('has_training_tags'), header.indexOf('has_training_tags') + 3),
      ['has_training_tags', 'verdict', 'verdict_reason'],
    );
    const byId = new Map(rows.filter((row) => row.row_type === 'model').map((row) => [row.model_id, row]));
    for (const row of rows.filter((r) => r.row_type === 'model')) {
      assert.ok(['flagged', 'clean', 'unknown'].includes(row.verdict ?? ''), row.verdict);
      assert.ok((row.verdict_reason ?? '').length > 0);
    }
    assert.equal(byId.get('910002')?.verdict, 'flagged');
    // The informational bias clause follows; it never changes the verdict.
    assert.match(
      byId.get('910002')?.verdict_reason ?? '',
      /^Possible tag errors found by: training\. bias: informational, vs population\(n=\d+\)/,
    );
    assert.equal(byId.get('910001')?.verdict, 'clean');
    assert.ok(
      byId
        .get('910001')
        ?.verdict_reason?.startsWith(
          'No tag errors found by: text, training; not measured: clip (not run: CLIP model files are missing, run npm run models). bias: informational',
        ),
    );
    // Watercolor has no training header: clean on text only, and the reason says training measured nothing.
    assert.match(
      byId.get('910004')?.verdict_reason ?? '',
      /^No tag errors found by: text; not measured: training \(no training tags: .+\), clip \(not run: /,
    );
  });

  test('a local file nothing could be read from is unknown, and the reason says which analysis lacked what', async () => {
    const path = join(tmp(), 'bare.safetensors');
    writeFileSync(path, buildSafetensors({ ss_output_name: 'bare' }, 4096));
    const nowhere = await startCivitaiReplay({ catalogue: emptyCatalogue() });
    try {
      const out = tmp();
      const r = await runCliCaptured(
        ['audit', '--file', path, '--out', out],
        env({ CIVITAI_BASE_URL: nowhere.url }),
      );
      assert.equal(r.code, 0, r.stderr);
      const [row] = csvRows(out);
      assert.equal(row?.verdict, 'unknown');
      const reason =
        'Nothing could be measured: text (no description or changelog, and comments were not read), training (no training tags: no ss_tag_frequency in the header), clip (not run: CLIP model files are missing, run npm run models).';
      assert.equal(row?.verdict_reason, reason);
      assert.equal(row?.tag_error_text, '', 'no text scanned is not measured, not "false"');
      assert.equal(row?.tag_error_text_score, '');
      assert.equal(row?.text_sources_scanned, '0');
      assert.ok(r.stdout.includes(`0 bare: ${reason}`), r.stdout);
      assert.match(r.stdout, /n\/a \(local file\)/);
    } finally {
      await nowhere.close();
    }
  });

  test('image rows leave verdict and verdict_reason empty; model rows pass the ModelRow schema', async () => {
    const out = tmp();
    const crawled = await runCliCaptured(['crawl', '--top', '2', '--out', out], env());
    assert.equal(crawled.code, 0, crawled.stderr);
    const records = JSON.parse(readFileSync(join(out, 'crawl.json'), 'utf8')).models.map((m: unknown) =>
      ModelRecord.parse(m),
    );
    const analysis = (flagged: boolean | null): ModelAnalysis => ({
      flagged,
      ...(flagged === null ? { unmeasured: 'no sample image could be scored' } : {}),
      findings: [],
      metrics: { fake_score: flagged === null ? null : 1 },
      evidence: null,
    });
    const fake: Analyzer = {
      name: 'fake',
      columns: ['fake_score'],
      async analyze() {
        throw new Error('not called');
      },
    };
    const result = buildAuditResult({
      selection: { kind: 'model', ref: String(records[0].id) },
      options: AuditRunOptions.parse({ comments: true, maxBrowsingLevel: 2, imagesPerVersion: 20 }),
      records,
      analyzers: [fake],
      outputs: [
        {
          perModel: new Map([
            [records[0].id, analysis(null)],
            [records[1].id, analysis(false)],
          ]),
          rows: [{ row_type: 'image', model_id: records[0].id, image_id: 7, fake_image_score: 0.5 }],
          notes: [],
          flaggedImages: [],
        },
      ],
      notes: [],
      now: new Date(0),
    });
    const csv = result.files.find((f) => f.name === 'metrics.csv')?.data.toString('utf8') ?? '';
    const rows = parse(csv, { columns: true }) as Array<Record<string, string>>;
    const [first, second, image] = rows;
    assert.equal(first?.verdict, 'unknown');
    assert.equal(first?.verdict_reason, 'Nothing could be measured: fake (no sample image could be scored).');
    assert.equal(second?.verdict, 'clean');
    assert.equal(second?.verdict_reason, 'No tag errors found by: fake.');
    assert.equal(image?.row_type, 'image');
    assert.equal(image?.verdict, '');
    assert.equal(image?.verdict_reason, '');
    for (const m of result.models) {
      const row = Object.fromEntries(Object.entries(m.metrics).filter(([k]) => k in ModelRow.shape));
      ModelRow.parse(row);
    }
  });
});

describe('the printed summary', () => {
  test('audit without an API key: comments n/a (no API key) with a legend, the analyses named, no "scoring"', async () => {
    const out = tmp();
    const r = await runCliCaptured(['audit', '--top', '5', '--out', out], env());
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const table = lines.slice(2, 7);
    for (const line of table) assert.match(line, /\bn\/a \(no API key\)\s/);
    assert.ok(
      lines.includes(
        'comments n/a (no API key): comments and reviews were not read; Civitai serves them only with CIVITAI_API_KEY set.',
      ),
      r.stdout,
    );
    assert.ok(lines.includes('analyses run on every model (the progress line counts them):'));
    assert.match(
      r.stdout,
      /^ {2}text {6}tag-error reports in the description, changelogs, comments and reviews$/m,
    );
    assert.match(r.stdout, /^ {2}training {2}training tags in the file header against the trigger words$/m);
    assert.match(r.stdout, /^ {2}clip {6}CLIP match of each sample image with its own prompt$/m);
    assert.match(r.stdout, /^verdict: flagged = /m);
    // Progress (plain lines on a non-TTY stderr) says what is being scored.
    assert.match(r.stdout, /^ {2}bias {6}colour, faces, composition and CLIP distances against a reference/m);
    assert.match(r.stderr, /^analyses 0\/4 running text: tag-error reports/m);
    assert.match(r.stderr, /^analyses 4\/4 done: text, training, clip, bias$/m);
    assert.doesNotMatch(r.stderr, /scoring/);
    assert.doesNotMatch(r.stderr, /\/0\b/);
  });

  test('crawl --no-comments says n/a (--no-comments) with its legend line', async () => {
    const r = await runCliCaptured(
      ['crawl', '--top', '2', '--no-comments', '--out', tmp()],
      env({ CIVITAI_API_KEY: 'demo-key-not-secret' }),
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[2] ?? '', /\bn\/a \(--no-comments\)\s/);
    assert.equal(lines.at(-1), 'comments n/a (--no-comments): comments and reviews were not asked for.');
  });

  test('with comments read, the cell is the count and there is no comment legend', async () => {
    const r = await runCliCaptured(
      ['crawl', '--top', '2', '--out', tmp()],
      env({ CIVITAI_API_KEY: 'demo-key-not-secret' }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /n\/a|^comments /m);
  });
});

describe('evidence is cut at word boundaries', () => {
  test('a reported span in a long comment keeps whole words around it, in audit.json and on screen', async () => {
    const out = tmp();
    const r = await runCliCaptured(
      ['audit', '--model', String(LONG_REPORT_MODEL), '--out', out],
      env({ CIVITAI_API_KEY: 'demo-key-not-secret' }),
    );
    assert.equal(r.code, 0, r.stderr);
    const audit = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8'));
    const finding = audit.models[0].findings.find((f: { source?: string }) => f.source === 'comment 990001');
    assert.ok(finding, 'the long comment is a finding');
    assert.match(finding.evidence, /^…?(alphabet )+the trigger word is wrong( omegaxyz)+…$/);
    const words = finding.evidence.replace(/…/g, '').split(' ');
    for (const w of words) assert.ok(LONG_COMMENT.split(' ').includes(w), `"${w}" is a whole word`);
    // The CLI prints at most 160 characters of it, still on a word boundary.
    const printed = r.stdout.split('\n').find((l) => l.includes('the trigger word is wrong'));
    if (printed) {
      for (const w of printed.trim().replace(/…/g, '').split(' ')) {
        assert.ok(LONG_COMMENT.split(' ').includes(w), `"${w}" printed whole`);
      }
    }
  });
});
