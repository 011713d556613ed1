import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { badness, fixEncoding, fixEncodingAndExplain, fixText, isBad } from '../../src/analysis/clip/ftfy.ts';
import { clipCleanText } from '../../src/analysis/clip/text-clean.ts';

const FIXTURES = resolve(fileURLToPath(new URL('../fixtures/ftfy', import.meta.url)));

interface FtfyCase {
  label: string;
  original: string;
  fixed: string;
  'fixed-encoding'?: string;
  expect: 'pass' | 'fail';
}

// ftfy's published test cases (python-ftfy tests/test-cases at 8a55920c; see PROVENANCE.md).
const cases: Array<FtfyCase & { file: string }> = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .flatMap((file) =>
    (JSON.parse(readFileSync(resolve(FIXTURES, file), 'utf8')) as FtfyCase[]).map((c) => ({ ...c, file })),
  );

function passes(c: FtfyCase): boolean {
  return fixText(c.original) === c.fixed && fixEncoding(c.original) === (c['fixed-encoding'] ?? c.fixed);
}

describe("ftfy port against ftfy's own test cases", () => {
  test('every case ftfy 6.3.1 passes also passes here (151 of 151)', () => {
    const expectedPass = cases.filter((c) => c.expect === 'pass');
    assert.equal(expectedPass.length, 151, 'all five case files are present');
    const failures = expectedPass.filter((c) => !passes(c)).map((c) => `${c.file}: ${c.label}`);
    // The floor is what the port achieved; a regression lowers the count and lists the cases.
    assert.ok(expectedPass.length - failures.length >= 151, `failing cases:\n${failures.join('\n')}`);
  });

  test("ftfy's known failures fail here too, the way ftfy fails them", () => {
    const knownFailures = cases.filter((c) => c.expect === 'fail');
    assert.equal(knownFailures.length, 10);
    for (const c of knownFailures) assert.equal(passes(c), false, c.label);
  });
});

interface FtfyOutput {
  in: string;
  fix_text: string;
  fix_encoding: string;
  badness: number;
}

describe('ftfy port against outputs of the real ftfy 6.3.1', () => {
  // 300 seeded inputs run through Python ftfy 6.3.1 (make-ftfy-outputs.py; see PROVENANCE.md).
  const rows = readFileSync(resolve(FIXTURES, 'ftfy-6.3.1-outputs.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as FtfyOutput);

  test('fix_text, fix_encoding and badness agree on every row', () => {
    assert.equal(rows.length, 300);
    assert.ok(rows.filter((r) => r.in !== r.fix_text).length > 150, 'most rows need fixing');
    const differ = rows.filter(
      (r) =>
        fixText(r.in) !== r.fix_text || fixEncoding(r.in) !== r.fix_encoding || badness(r.in) !== r.badness,
    );
    assert.deepEqual(
      differ.map((r) => r.in),
      [],
    );
  });
});

describe('fix_encoding behaviour', () => {
  test('repairs UTF-8 read as Windows-1252 and explains how', () => {
    assert.equal(fixEncoding('cafÃ©'), 'café');
    assert.equal(fixEncoding('donâ€™t'), 'don’t');
    assert.deepEqual(fixEncodingAndExplain('sÃ³').explanation, [
      ['encode', 'latin-1'],
      ['decode', 'utf-8'],
    ]);
    assert.deepEqual(fixEncodingAndExplain('voilÃ le travail'), {
      text: 'voilà le travail',
      explanation: [
        ['encode', 'latin-1'],
        ['transcode', 'restore_byte_a0'],
        ['decode', 'utf-8'],
      ],
    });
  });

  test('text the badness heuristic finds clean is never touched', () => {
    for (const clean of ['café crème', 'Brontë…”', 'NESTLÉ®', '¯\\_(ツ)_/¯', '├┤a┼┐a', 'naïve façade']) {
      assert.equal(isBad(clean), false, clean);
      assert.equal(fixEncoding(clean), clean);
    }
  });

  test('CESU-8 emoji and C1 controls', () => {
    assert.equal(fixEncoding('Hi guys í\u00a0½í¸\u008d'), 'Hi guys 😍');
    assert.equal(fixText('parlé\u0085 Tu'), 'parlé… Tu');
  });
});

describe('fix_text steps around the mojibake repair', () => {
  test('entities are decoded only until a line contains "<", lines are fixed one by one', () => {
    assert.equal(fixText('a &eacute;\n<b> &eacute;\nc &eacute;'), 'a é\n<b> &eacute;\nc &eacute;');
    assert.equal(fixText('P&EACUTE;REZ &amp'), 'PÉREZ &amp');
  });

  test('terminal escapes go with their parameters, not only the escape character', () => {
    assert.equal(fixText('\u001b[36;44mblue\u001b[0m'), 'blue');
  });

  test('CLIP cleaning of a mis-decoded prompt equals the cleaning of the intended prompt', () => {
    assert.equal(clipCleanText('donâ€™t  look, cafÃ©'), clipCleanText('don’t look, café'));
    assert.equal(clipCleanText('donâ€™t  look, cafÃ©'), "don't look, café");
  });
});
