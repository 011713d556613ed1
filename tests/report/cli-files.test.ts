import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { unzipSync } from 'fflate';
import { AUDIT_SCHEMA_VERSION, AuditDocument } from '../../src/analysis/audit/document.ts';
import { demoCatalogue } from '../fixtures/demo/catalogue.ts';
import { type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { runCliCaptured } from '../support/run-cli.ts';

// The demo catalogue (tests/fixtures/demo) on a loopback replay server: what `npm run demo` runs.
let replay: CivitaiReplay;
const out = mkdtempSync(join(tmpdir(), 'loralens-report-cli-'));
const models = mkdtempSync(join(tmpdir(), 'loralens-nomodels-'));
let code: number;
let stderr: string;

before(async () => {
  replay = await startCivitaiReplay({ catalogue: demoCatalogue() });
  const r = await runCliCaptured(['audit', '--top', '5', '--out', out], {
    CIVITAI_BASE_URL: replay.url,
    CIVITAI_API_KEY: 'demo-key-not-secret',
    LORALENS_STORE_URL: 'memory://',
    LORALENS_MODELS_DIR: models,
    CIVITAI_RATE_PER_SECOND: '200',
    LOG_LEVEL: 'silent',
  });
  code = r.code;
  stderr = r.stderr;
});
after(() => replay.close());

/** docs/metrics.md's column table: name → type. */
function documentedColumns(): Map<string, string> {
  const md = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  const columns = new Map<string, string>();
  for (const line of md.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`([a-z_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (name) columns.set(name, cells[3] ?? '');
  }
  return columns;
}

const TYPE_CHECKS: Record<string, (v: string) => boolean> = {
  string: () => true,
  enum: (v) => /^[\w.+ -]+$/.test(v),
  integer: (v) => /^-?\d+$/.test(v),
  number: (v) => Number.isFinite(Number(v)),
  boolean: (v) => v === 'true' || v === 'false',
  date: (v) => !Number.isNaN(Date.parse(v)) && /^\d{4}-\d{2}-\d{2}T/.test(v),
};

describe('loralens audit --out DIR (the demo)', () => {
  test('writes every report file under its fixed name', () => {
    assert.equal(code, 0, stderr);
    for (const name of [
      'metrics.csv',
      'audit.json',
      'error_samples.zip',
      'Detailed_Report.md',
      'Executive_Summary_CN.pdf',
      'Executive_Summary_EN.pdf',
      'report.html',
      'charts/text-reports.png',
      'charts/training-conflicts.png',
    ])
      assert.ok(existsSync(join(out, name)), name);
    assert.match(stderr, /wrote .*error_samples\.zip/);
  });

  test('metrics.csv parses back: every column documented in docs/metrics.md, every cell of its type', () => {
    const docs = documentedColumns();
    const text = readFileSync(join(out, 'metrics.csv'), 'utf8');
    const rows = parse(text, { columns: true }) as Array<Record<string, string>>;
    const header = Object.keys(rows[0] ?? {});
    assert.ok(header.length > 15);
    for (const column of header) assert.ok(docs.has(column), `${column} is documented in docs/metrics.md`);
    for (const row of rows)
      for (const [column, value] of Object.entries(row)) {
        if (value === '') continue;
        const type = docs.get(column) ?? '';
        assert.ok(TYPE_CHECKS[type]?.(value), `${column}=${value} is a ${type}`);
      }
  });

  test('audit.json carries its schemaVersion and parses as the typed document', () => {
    const json = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8')) as { schemaVersion: unknown };
    assert.equal(json.schemaVersion, AUDIT_SCHEMA_VERSION);
    const doc = AuditDocument.parse(json);
    assert.equal(doc.models.length, 5);
    assert.ok(doc.models.every((m) => Object.keys(m.outcomes).length === doc.analyses.length));
  });

  test('error_samples.zip holds the flagged models’ sample images within --max-nsfw-level', () => {
    const files = unzipSync(new Uint8Array(readFileSync(join(out, 'error_samples.zip'))));
    const manifest = JSON.parse(Buffer.from(files['manifest.json'] ?? []).toString()) as {
      entries: Array<{ image: string; json: string; kind: string }>;
    };
    assert.ok(manifest.entries.length > 0);
    for (const e of manifest.entries) {
      assert.ok(files[e.image] && files[e.json], e.image);
      const meta = JSON.parse(Buffer.from(files[e.json] ?? []).toString()) as { nsfwLevel: number };
      assert.ok(meta.nsfwLevel >= 1 && meta.nsfwLevel <= 2, `${e.image} level ${meta.nsfwLevel}`);
    }
  });
});
