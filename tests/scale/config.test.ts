import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, hasCode } from '../../src/analysis/errors.ts';
import { loadConfig } from '../../src/config.ts';
import { runCliCaptured } from '../support/run-cli.ts';

describe('REDIS_URL and loralens worker configuration', () => {
  test('REDIS_URL selects the BullMQ queue and, unless LORALENS_STORE_URL says otherwise, the store', () => {
    const redisOnly = loadConfig({ REDIS_URL: 'redis://10.0.0.5:6379', LORALENS_DATA_DIR: '/tmp/x' });
    assert.equal(redisOnly.queueUrl, 'redis://10.0.0.5:6379');
    assert.equal(redisOnly.storeUrl, 'redis://10.0.0.5:6379');
    const split = loadConfig({ REDIS_URL: 'redis://q:6379', LORALENS_STORE_URL: 'sqlite:///tmp/a.sqlite' });
    assert.equal(split.queueUrl, 'redis://q:6379');
    assert.equal(split.storeUrl, 'sqlite:///tmp/a.sqlite');
    assert.equal(loadConfig({ LORALENS_STORE_URL: 'redis://s:6379' }).queueUrl, 'redis://s:6379');
    assert.equal(loadConfig({ LORALENS_DATA_DIR: '/tmp/x' }).queueUrl, undefined, 'embedded default');
    assert.throws(
      () => loadConfig({ REDIS_URL: 'http://redis' }),
      (e) =>
        hasCode(e, ErrorCode.CONFIG_INVALID) && /REDIS_URL must start with redis:\/\//.test(e.userMessage),
    );
  });

  test('loralens worker without Redis, or with a bad --concurrency, is one sentence and exit 2', async () => {
    const none = await runCliCaptured(['worker'], { LORALENS_STORE_URL: 'memory://' });
    assert.equal(none.code, 2);
    assert.equal(
      none.stderr,
      'error: loralens worker needs a Redis queue: set REDIS_URL (or a redis:// LORALENS_STORE_URL).\n',
    );
    const bad = await runCliCaptured(['worker', '--concurrency', '0'], { REDIS_URL: 'redis://127.0.0.1:9' });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'error: --concurrency must be a whole number from 1 to 64.\n');
  });
});
