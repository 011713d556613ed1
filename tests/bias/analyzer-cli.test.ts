import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditRunOptions } from '../../src/analysis/audit/types.ts';
import { biasOptionsFromFlags } from '../../src/cli/selection.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'loralens-refs-'));
const isDir = async (p: string) => p === dir;

test('--reference DIR, --reference-model ID and --seed N become the run options', async () => {
  assert.deepEqual(await biasOptionsFromFlags({}, isDir), { reference: { kind: 'population' } });
  assert.deepEqual(await biasOptionsFromFlags({ reference: dir, seed: '42' }, isDir), {
    reference: { kind: 'dir', path: dir },
    seed: 42,
  });
  const model = await biasOptionsFromFlags({ referenceModel: ' https://civitai.com/models/4201 ' }, isDir);
  assert.deepEqual(model, { reference: { kind: 'model', ref: 'https://civitai.com/models/4201' } });
  // What the flags give is what the run options accept.
  AuditRunOptions.parse(await biasOptionsFromFlags({ reference: dir, seed: '2147483647' }, isDir));
});

test('misuse of the reference flags is one sentence naming the flag', async () => {
  const cases: Array<[Parameters<typeof biasOptionsFromFlags>[0], RegExp]> = [
    [{ reference: dir, referenceModel: '1' }, /^Use only one of --reference .* and --reference-model/],
    [{ reference: join(dir, 'missing') }, /^--reference .*missing is not an existing folder\.$/],
    [{ referenceModel: ' ' }, /^--reference-model needs a model id/],
    [{ seed: '-1' }, /^--seed must be a whole number from 0 to 2147483647, not "-1"\.$/],
    [{ seed: '2147483648' }, /^--seed must be/],
    [{ seed: '1.5' }, /^--seed must be/],
  ];
  for (const [flags, message] of cases) {
    await assert.rejects(biasOptionsFromFlags(flags, isDir), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'INPUT_INVALID');
      assert.match(e.message, message);
      return true;
    });
  }
});

test('loralens audit exits 2 with one sentence for both references or a missing folder', async () => {
  const env = { LORALENS_STORE_URL: 'memory://', CIVITAI_BASE_URL: 'http://127.0.0.1:9' };
  const both = await runCliCaptured(
    ['audit', '--model', '1', '--reference', dir, '--reference-model', '2', '--out', join(dir, 'out')],
    env,
  );
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /Use only one of --reference/);
  assert.equal(both.stderr.trim().split('\n').length, 1);
  const missing = await runCliCaptured(
    ['audit', '--model', '1', '--reference', join(dir, 'nope'), '--out', join(dir, 'out')],
    env,
  );
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /nope is not an existing folder/);
});
