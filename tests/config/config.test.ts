import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CLIP_DEFAULT_BATCH, CLIP_DEFAULT_TEXT_BATCH } from '../../src/analysis/clip/defaults.ts';
import { isAppError } from '../../src/analysis/errors.ts';
import { loadConfig } from '../../src/config.ts';

describe('shared configuration', () => {
  test('the CLIP batch sizes default to the bench-tuned values and can be set apart', () => {
    assert.equal(loadConfig({}).clipBatchSize, CLIP_DEFAULT_BATCH);
    assert.equal(loadConfig({}).clipTextBatchSize, CLIP_DEFAULT_TEXT_BATCH);
    const set = loadConfig({ LORALENS_CLIP_BATCH: '32', LORALENS_CLIP_TEXT_BATCH: '24' });
    assert.equal(set.clipBatchSize, 32);
    assert.equal(set.clipTextBatchSize, 24);
  });

  test('a bad CLIP batch size is one CONFIG_INVALID sentence naming the variable', () => {
    for (const name of ['LORALENS_CLIP_BATCH', 'LORALENS_CLIP_TEXT_BATCH']) {
      for (const value of ['0', '-4', '2.5', 'lots']) {
        assert.throws(
          () => loadConfig({ [name]: value }),
          (e) => isAppError(e) && e.code === 'CONFIG_INVALID' && e.message.includes(name),
          `${name}=${value}`,
        );
      }
    }
  });
});
