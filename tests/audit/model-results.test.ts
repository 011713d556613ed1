import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Analyzer, AnalyzerOutput } from '../../src/analysis/audit/analyzer.ts';
import {
  analyzePerModel,
  decodeModelAnalysis,
  encodeModelAnalysis,
  modelResultKey,
} from '../../src/analysis/audit/model-results.ts';
import { createTextAnalyzer } from '../../src/analysis/audit/text-analyzer.ts';
import { createTrainingAnalyzer } from '../../src/analysis/audit/training-analyzer.ts';
import { AuditRunOptions } from '../../src/analysis/audit/types.ts';
import { trainingFromHeader } from '../../src/analysis/civitai/crawl.ts';
import type { ModelRecord } from '../../src/analysis/civitai/record.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { keyvModelResultCache, memoryModelResultCache } from '../../src/storage/model-result-cache.ts';
import { blankRecord, blankVersion } from '../support/records.ts';

const header = JSON.parse(
  readFileSync(new URL('../training/fixtures/legacy-two-folders.json', import.meta.url), 'utf8'),
) as Record<string, string>;

/** A model with a header, a description and comments: one reports a tag error, one does not. */
function record(id: number, comment = 'Half the dataset is mislabeled, 1girl gives me a guy.'): ModelRecord {
  return blankRecord(id, {
    descriptionText: 'Akane from the anime. Use the trigger word akane.',
    versions: [
      blankVersion(id * 10, {
        baseModel: 'SD 1.5',
        // Model 1's trigger word is nowhere in its header: a training-tag finding.
        trainedWords: id === 1 ? ['sakura'] : ['akane, red hair'],
        triggerWords: id === 1 ? ['sakura'] : ['akane', 'red hair'],
        training: trainingFromHeader({ metadata: header, tensorCount: 10, headerBytes: 1000 }, id * 10),
      }),
    ],
    comments: {
      status: 'ok',
      reason: null,
      items: [
        {
          kind: 'comment',
          id: id * 100 + 1,
          parentId: null,
          versionId: null,
          createdAt: null,
          user: 'u1',
          rating: null,
          recommended: null,
          text: comment,
        },
        {
          kind: 'review',
          id: id * 100 + 2,
          parentId: null,
          versionId: id * 10,
          createdAt: null,
          user: 'u2',
          rating: 5,
          recommended: true,
          text: 'great colours, works well',
        },
      ],
    },
  });
}

const options = AuditRunOptions.parse({});
const run = (analyzer: Analyzer, records: ModelRecord[]): Promise<AnalyzerOutput> =>
  analyzer.analyze(records, {}, options);
const json = (out: AnalyzerOutput): string => JSON.stringify([...out.perModel]);

for (const make of [
  (o: Parameters<typeof createTextAnalyzer>[0]) => createTextAnalyzer(o),
  (o: Parameters<typeof createTrainingAnalyzer>[0]) => createTrainingAnalyzer(o),
]) {
  const name = make({}).name;
  test(`${name}: a re-run over unchanged records computes nothing and gives the same per-model output`, async () => {
    const records = [record(1), record(2, 'love it'), record(3)];
    const cache = memoryModelResultCache();
    const computed: number[] = [];
    const analyzer = make({ cache, onCompute: (id) => computed.push(id) });
    const cold = await run(analyzer, records);
    assert.deepEqual(computed, [1, 2, 3]);
    // Model 1 is flagged with findings by both analyses, so findings and evidence go through the store.
    assert.equal(cold.perModel.get(1)?.flagged, true);
    assert.ok((cold.perModel.get(1)?.findings.length ?? 0) > 0);
    assert.equal(cache.stats.sets, 3);
    // Without a cache the analysis is the same (the stored form loses nothing the output shows).
    const plain = await run(make({}), records);
    assert.equal(json(cold), json(plain));

    computed.length = 0;
    const warm = await run(analyzer, records);
    assert.deepEqual(computed, [], 'nothing recomputed');
    assert.equal(json(warm), json(cold));
    assert.deepEqual([...warm.perModel.keys()], [1, 2, 3], 'record order');

    // One changed record (a new comment) is analysed again; the others are read back.
    const changed = [
      records[0]!,
      record(2, 'The trigger word on the page does nothing; in the metadata it is spelled differently.'),
      records[2]!,
    ];
    await run(analyzer, changed);
    assert.deepEqual(computed, [2]);
  });
}

test('the key covers the analysis, its version, its options and every field of the record', () => {
  const a = record(1);
  const key = modelResultKey('text', 'text-1', { threshold: null }, a);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(modelResultKey('text', 'text-1', { threshold: null }, record(1)), key, 'a rebuilt record');
  // Property order does not matter; content does.
  const reordered = Object.fromEntries(Object.entries(a).reverse()) as ModelRecord;
  assert.equal(modelResultKey('text', 'text-1', { threshold: null }, reordered), key);
  assert.notEqual(modelResultKey('training', 'text-1', { threshold: null }, a), key);
  assert.notEqual(modelResultKey('text', 'text-2', { threshold: null }, a), key);
  assert.notEqual(modelResultKey('text', 'text-1', { threshold: 0.4 }, a), key);
  assert.notEqual(
    modelResultKey('text', 'text-1', { threshold: null }, { ...record(1), fetchedAt: 'x' }),
    key,
  );
  assert.notEqual(modelResultKey('text', 'text-1', { threshold: null }, record(1, 'other words')), key);
});

test('a stored value that does not decode or validate is recomputed, and exact numbers survive', async () => {
  const analysis = {
    flagged: true,
    findings: [],
    metrics: { score: 0.25, zero: -0, s: 'x', empty: null },
    evidence: { nested: [1, Number.NEGATIVE_INFINITY], missing: Number.NaN, big: Number.POSITIVE_INFINITY },
    note: 'n',
  };
  const back = decodeModelAnalysis(encodeModelAnalysis(analysis))!;
  assert.ok(Object.is(back.metrics.zero, -0));
  assert.deepEqual(back.evidence, {
    nested: [1, Number.NEGATIVE_INFINITY],
    missing: Number.NaN,
    big: Number.POSITIVE_INFINITY,
  });
  // A metrics.csv cell is never NaN (the Cell schema): such a value is not trusted back.
  assert.equal(
    decodeModelAnalysis(encodeModelAnalysis({ ...analysis, metrics: { x: Number.NaN } })),
    undefined,
  );
  assert.equal(decodeModelAnalysis('{not json'), undefined);
  assert.equal(decodeModelAnalysis(JSON.stringify({ flagged: 'yes', findings: [] })), undefined);

  const cache = memoryModelResultCache();
  const records = [record(5)];
  const key = modelResultKey('t', '1', undefined, records[0]!);
  await cache.set(key, '{"flagged":"corrupt"}');
  const computed: number[] = [];
  const out = await analyzePerModel(
    records,
    { name: 't', version: '1', cache, onCompute: (id) => computed.push(id) },
    () => analysis,
  );
  assert.deepEqual(computed, [5]);
  assert.equal(out.get(5)?.note, 'n');
});

test('through a sqlite store: a new process (new analyzer) reads the results back', async () => {
  const storage = openStorage('memory://');
  const file = `${(await import('node:os')).tmpdir()}/loralens-model-results-${process.pid}-${Date.now()}.sqlite`;
  const sqlite = openStorage(`sqlite://${file}`);
  try {
    for (const backend of [storage, sqlite]) {
      const records = [record(7), record(8, 'works fine')];
      const first = await run(
        createTrainingAnalyzer({ cache: keyvModelResultCache(backend.keyv('model-results')) }),
        records,
      );
      const computed: number[] = [];
      const second = await run(
        createTrainingAnalyzer({
          cache: keyvModelResultCache(backend.keyv('model-results')),
          onCompute: (id) => computed.push(id),
        }),
        records,
      );
      assert.deepEqual(computed, []);
      assert.equal(json(second), json(first));
    }
  } finally {
    await storage.close();
    await sqlite.close();
    (await import('node:fs')).rmSync(file, { force: true });
  }
});
