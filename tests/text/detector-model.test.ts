import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gramKey } from '../../src/analysis/text/detector/features.ts';
import {
  compileModel,
  DetectorModelFile,
  defaultDetectorModel,
  defaultDetectorModelFingerprint,
} from '../../src/analysis/text/detector/model.ts';

const MODEL_URL = new URL('../../assets/text-detector/model.json', import.meta.url);

describe('the committed detector model file', () => {
  it('validates its weights in one pass and refuses a weight that is not a finite number', () => {
    const file = JSON.parse(readFileSync(MODEL_URL, 'utf8'));
    assert.ok(DetectorModelFile.safeParse(file).success);
    for (const bad of [Number.NaN, '0.5', null]) {
      const broken = { ...file, weights: { ...file.weights, 'w:extra': bad } };
      // NaN is not JSON: check the parsed object as it would come from a hand-edited loader.
      assert.equal(DetectorModelFile.safeParse(broken).success, false, String(bad));
    }
    assert.equal(DetectorModelFile.safeParse({ ...file, weights: [1, 2] }).success, false);
    assert.equal(DetectorModelFile.safeParse({ ...file, weights: null }).success, false);
  });

  it('compiles every weight: named ones by name, n-grams summed by key', () => {
    const file = DetectorModelFile.parse({
      schemaVersion: 1,
      training: {},
      bias: 0,
      platt: { a: 1, c: 0 },
      weights: { 'frame:x': 0.5, 'w:cat': 1, 'c:ab': -2 },
    });
    const model = compileModel(file);
    assert.deepEqual([...model.named], [['frame:x', 0.5]]);
    assert.equal(model.grams.get(gramKey('w:cat')!), 1);
    assert.equal(model.grams.get(gramKey('c:ab')!), -2);
    assert.equal(model.grams.get(gramKey('w:dog')!), 0);
    // The committed model loads through the same path.
    assert.ok(defaultDetectorModel().named.size > 0);
  });

  it('is fingerprinted by the sha256 of its bytes (the key of stored text results)', () => {
    const expected = createHash('sha256').update(readFileSync(MODEL_URL, 'utf8'), 'utf8').digest('hex');
    assert.equal(defaultDetectorModelFingerprint(), expected);
  });
});
