import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { type CsvRow, MODEL_COLUMNS, renderMetricsCsv } from '../../src/analysis/audit/metrics-csv.ts';

const read = (text: string): string[][] => parse(text) as string[][];
const cell = (records: string[][], row: number, column: string): string | undefined =>
  records[row + 1]?.[(records[0] ?? []).indexOf(column)];

test('an extra column named like an Object.prototype member is empty, not the inherited function', () => {
  const rows: CsvRow[] = [{ row_type: 'model', model_id: 1 }];
  const records = read(renderMetricsCsv(rows, ['valueOf', 'toString', 'constructor', 'hasOwnProperty']));
  for (const column of ['valueOf', 'toString', 'constructor', 'hasOwnProperty']) {
    assert.ok(records[0]?.includes(column), `header has ${column}`);
    assert.equal(cell(records, 0, column), '', column);
  }
  assert.equal(cell(records, 0, 'model_id'), '1');
});

test('a row with its own __proto__ key does not make other rows write [object Object]', () => {
  const rows = JSON.parse(
    '[{"row_type":"model","model_id":1},{"__proto__":null,"row_type":"model","model_id":2},{"__proto__":"x","row_type":"model"}]',
  ) as CsvRow[];
  const records = read(renderMetricsCsv(rows));
  assert.equal(records.length, 4);
  assert.deepEqual(records[0]?.slice(0, MODEL_COLUMNS.length), [...MODEL_COLUMNS]);
  assert.ok(records[0]?.includes('__proto__'));
  assert.equal(cell(records, 0, '__proto__'), '');
  assert.equal(cell(records, 1, '__proto__'), '');
  assert.equal(cell(records, 2, '__proto__'), 'x');
  assert.equal(cell(records, 1, 'model_id'), '2');
  assert.ok(!records.flat().includes('[object Object]'));
});

test('a row built without a prototype is written like any other row', () => {
  const row = Object.assign(Object.create(null) as CsvRow, {
    row_type: 'model',
    model_id: 3,
    verdict: 'clean',
  });
  const records = read(renderMetricsCsv([row], ['x']));
  assert.equal(cell(records, 0, 'model_id'), '3');
  assert.equal(cell(records, 0, 'verdict'), 'clean');
  assert.equal(cell(records, 0, 'x'), '');
});
