import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { unzipSync } from 'fflate';
import { type BuiltReport, buildReport } from '../../src/report/build.ts';
import { escapeHtml } from '../../src/report/html.ts';
import { escapeMarkdown } from '../../src/report/markdown.ts';
import { bufferSink, evidenceItems, writeErrorSamplesZip } from '../../src/report/zip.ts';
import { needsCommands } from '../support/requirements.ts';
import { fixtureAudit } from './fixture.ts';

const POPPLER = needsCommands(['pdfinfo', 'pdftotext', 'pdffonts', 'pdftoppm'], 'poppler-utils');
const CHROMIUM = needsCommands(['chromium'], 'chromium');

const doc = fixtureAudit({ models: 8, hostile: true });
let report: BuiltReport;
const dir = mkdtempSync(join(tmpdir(), 'loralens-report-'));
const file = (name: string): Buffer => {
  const f = report.files.find((x) => x.name === name);
  assert.ok(f, `${name} was built`);
  return f.data;
};

before(async () => {
  report = await buildReport(doc);
  for (const f of report.files) {
    mkdirSync(dirname(join(dir, f.name)), { recursive: true });
    writeFileSync(join(dir, f.name), f.data);
  }
});

const run = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });

describe('executive summary PDFs', () => {
  test('each summary is exactly one A4 page', POPPLER, () => {
    for (const name of ['Executive_Summary_CN.pdf', 'Executive_Summary_EN.pdf']) {
      const info = run('pdfinfo', [join(dir, name)]);
      assert.match(info, /^Pages:\s+1$/m, `${name}: ${info}`);
      assert.match(info, /^Page size:\s+595\.2\d? x 841\.8\d? pts \(A4\)/m, name);
    }
  });

  test('the Chinese summary carries its Chinese headings and the audited numbers', POPPLER, () => {
    const text = run('pdftotext', ['-layout', join(dir, 'Executive_Summary_CN.pdf'), '-']);
    for (const heading of ['审计执行摘要', '背景', '审计范围', '主要发现', '图表', '建议'])
      assert.ok(text.includes(heading), heading);
    const flagged = doc.models.filter((m) => m.verdict === 'flagged').length;
    assert.ok(text.includes(`${doc.models.length} 个模型中有 ${flagged} 个`), text);
  });

  test('every font is embedded as a subset', POPPLER, () => {
    for (const name of ['Executive_Summary_CN.pdf', 'Executive_Summary_EN.pdf']) {
      const rows = run('pdffonts', [join(dir, name)])
        .trim()
        .split('\n')
        .slice(2);
      assert.ok(rows.length > 0, `${name} lists its fonts`);
      for (const row of rows) {
        assert.match(row, /^[A-Z]{6}\+\S+/, `subset name: ${row}`);
        assert.match(row, /\syes\s+yes\s+yes\s/, `embedded, subset, unicode: ${row}`);
      }
    }
  });

  test('page 1 renders to a PNG of A4 proportions', POPPLER, () => {
    const prefix = join(dir, 'cn-page');
    run('pdftoppm', [
      '-r',
      '40',
      '-png',
      '-f',
      '1',
      '-l',
      '1',
      '-singlefile',
      join(dir, 'Executive_Summary_CN.pdf'),
      prefix,
    ]);
    const png = readFileSync(`${prefix}.png`);
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    assert.ok(Math.abs(height / width - 841.89 / 595.28) < 0.02, `${width}×${height}`);
  });

  test('a summary with very long model names and many notes still fits one page', POPPLER, async () => {
    const long = fixtureAudit({ models: 3, hostile: true });
    long.notes = Array.from({ length: 40 }, (_, i) => `note ${i} ${'很长的说明 '.repeat(40)}`);
    for (const m of long.models) m.name = `${m.name} ${'名'.repeat(300)}`;
    const built = await buildReport(long, { markdown: false, html: false });
    for (const f of built.files.filter((x) => x.name.endsWith('.pdf'))) {
      const path = join(dir, `long-${f.name}`);
      writeFileSync(path, f.data);
      assert.match(run('pdfinfo', [path]), /^Pages:\s+1$/m, f.name);
    }
  });
});

describe('report.html', () => {
  test('is self-contained and escapes every user text', () => {
    const html = file('report.html').toString('utf8');
    assert.ok(!html.includes('<script'), 'no script element, even from a model name');
    assert.ok(html.includes(escapeHtml(doc.models[0]?.name ?? '')), 'the hostile name is shown escaped');
    assert.ok(!html.includes('<img src=x'), 'prompt HTML never reaches the page');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; img-src data:/);
    const sources = [...html.matchAll(/\ssrc="([^"]*)"/g)].map((m) => m[1] ?? '');
    assert.ok(
      sources.length > 0 && sources.every((s) => s.startsWith('data:image/png;base64,')),
      'charts inline',
    );
  });

  test('headless Chromium opens it and takes a screenshot', CHROMIUM, () => {
    const shot = join(dir, 'report.png');
    execFileSync(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        `--screenshot=${shot}`,
        '--window-size=1100,1600',
        `file://${join(dir, 'report.html')}`,
      ],
      { stdio: 'ignore', timeout: 120_000 },
    );
    assert.ok(existsSync(shot) && statSync(shot).size > 10_000, 'a non-trivial screenshot');
    assert.equal(readFileSync(shot).subarray(1, 4).toString('latin1'), 'PNG');
  });
});

/** Headings and table headers of a Markdown report, numbers masked (the golden structure). */
function structure(md: string): string {
  return md
    .split('\n')
    .filter(
      (l, i, all) =>
        l.startsWith('#') || (l.startsWith('| ') && all[i + 1]?.startsWith('| ---')) || l.startsWith('!['),
    )
    .map((l) => l.replace(/\d+(\\?\.\d+)?/g, 'N'))
    .join('\n');
}

describe('Detailed_Report.md', () => {
  test('has the golden structure: sections, tables and chart links', () => {
    const golden = join(import.meta.dirname, 'golden', 'detailed-report.structure.md');
    const got = `${structure(file('Detailed_Report.md').toString('utf8'))}\n`;
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, got);
    assert.equal(got, readFileSync(golden, 'utf8'));
  });

  test('links each chart it shows to a file under charts/ that was written', () => {
    const md = file('Detailed_Report.md').toString('utf8');
    const links = [...md.matchAll(/!\[[^\]]*\]\((charts\/[a-z-]+\.png)\)/g)].map((m) => m[1]);
    assert.ok(links.length >= 5);
    for (const link of links)
      assert.ok(
        report.files.some((f) => f.name === link),
        String(link),
      );
  });

  test('user text is escaped: a model name cannot open HTML, a link or a table cell', () => {
    const md = file('Detailed_Report.md').toString('utf8');
    assert.ok(!md.includes('<script>'));
    assert.ok(md.includes(escapeMarkdown(doc.models[0]?.name ?? '')));
    assert.equal(escapeMarkdown('a | b [x](y) <i>'), 'a \\| b \\[x\\](y) &lt;i&gt;');
    assert.equal(escapeMarkdown('# not a heading\nnext'), '\\# not a heading next');
  });

  test('says plainly which analyses did not run', async () => {
    const bare = await buildReport(fixtureAudit({ models: 4, clip: false, bias: false }), {
      pdf: ['en'],
      html: false,
    });
    const md = bare.files.find((f) => f.name === 'Detailed_Report.md')?.data.toString('utf8') ?? '';
    assert.match(md, /Not measured — clip: not measured for 4 of 4 model\(s\)/);
    assert.match(md, /Not measured — bias: not run in this audit\./);
    assert.match(md, /The bias analysis did not run in this audit/);
    assert.ok(!bare.charts.some((c) => c.name.startsWith('bias-') || c.name.startsWith('clip-')));
  });
});

describe('charts', () => {
  test('bias charts are drawn from the bias evidence schema when present', () => {
    const names = report.charts.map((c) => c.name);
    for (const n of [
      'bias-hue',
      'bias-saturation-value',
      'bias-face-aspect',
      'bias-shot-types',
      'bias-distances',
    ])
      assert.ok(names.includes(n as (typeof names)[number]), n);
    for (const c of report.charts) {
      assert.equal(c.png.subarray(1, 4).toString('latin1'), 'PNG');
      assert.equal(c.png.readUInt32BE(16), 1000);
    }
  });
});

describe('error_samples.zip', () => {
  test('holds image + JSON pairs under safe unique names, a manifest and a README, within the NSFW level', async () => {
    const items = evidenceItems(doc);
    const sink = bufferSink();
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const summary = await writeErrorSamplesZip(
      doc,
      items,
      {
        allow: (im) => im.nsfwLevel >= 1 && im.nsfwLevel <= 2,
        nsfwRule: 'up to level 2',
        source: async () => png,
      },
      sink,
    );
    const files = unzipSync(new Uint8Array(sink.buffer()));
    const names = Object.keys(files);
    for (const name of names) {
      assert.match(name, /^[A-Za-z0-9][A-Za-z0-9.-]{0,95}$/, name);
      assert.ok(!name.includes('..') && !name.includes('/') && !name.includes('\\'), name);
    }
    assert.equal(new Set(names.map((n) => n.toLowerCase())).size, names.length, 'unique names');
    const images = names.filter((n) => n.endsWith('.png'));
    const jsons = names.filter((n) => n.endsWith('.json') && n !== 'manifest.json');
    assert.deepEqual(
      images.map((n) => n.replace(/\.png$/, '')).sort(),
      jsons.map((n) => n.replace(/\.json$/, '')).sort(),
    );
    const allowed = items.filter((i) => i.image.nsfwLevel >= 1 && i.image.nsfwLevel <= 2);
    assert.equal(images.length, allowed.length);
    assert.equal(summary.withheld, items.length - allowed.length);
    const manifest = JSON.parse(Buffer.from(files['manifest.json'] ?? []).toString()) as {
      entries: Array<{ image: string; json: string }>;
      withheld: number;
      schemaVersion: number;
    };
    assert.equal(manifest.entries.length, images.length);
    assert.equal(manifest.withheld, summary.withheld);
    assert.equal(manifest.schemaVersion, doc.schemaVersion);
    assert.ok(files['README.txt']);
    const first = manifest.entries[0];
    assert.ok(first);
    const meta = JSON.parse(Buffer.from(files[first.json] ?? []).toString()) as Record<string, unknown>;
    for (const key of [
      'modelId',
      'versionId',
      'imageId',
      'url',
      'prompt',
      'promptClean',
      'scores',
      'reason',
      'findingKeys',
    ])
      assert.ok(key in meta, key);
    const lowMatch = manifest.entries.find((e) => e.image.includes('low-match'));
    if (lowMatch) {
      const m = JSON.parse(Buffer.from(files[lowMatch.json] ?? []).toString()) as {
        findingKeys: string[];
        scores: Record<string, unknown>;
      };
      assert.ok(
        m.findingKeys.length === 1 && m.findingKeys[0]?.includes(':clip:'),
        'a low match names its CLIP finding',
      );
      assert.equal(typeof m.scores.clip_cosine, 'number');
    }
  });
});
