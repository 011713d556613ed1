import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CLIP_DEFAULT_BATCH } from '../../src/analysis/clip/defaults.ts';
import { isAppError } from '../../src/analysis/errors.ts';
import { loadConfig } from '../../src/config.ts';

describe('shared configuration', () => {
  test('the CLIP batch size defaults to the bench-tuned value and can be set', () => {
    assert.equal(loadConfig({}).clipBatchSize, CLIP_DEFAULT_BATCH);
    assert.equal(loadConfig({ LORALENS_CLIP_BATCH: '32' }).clipBatchSize, 32);
  });

  test('a bad CLIP batch size is one CONFIG_INVALID sentence naming the variable', () => {
    for (const value of ['0', '-4', '2.5', 'lots']) {
      assert.throws(
        () => loadConfig({ LORALENS_CLIP_BATCH: value }),
        (e) => isAppError(e) && e.code === 'CONFIG_INVALID' && /LORALENS_CLIP_BATCH/.test(e.message),
        value,
      );
    }
  });
});
