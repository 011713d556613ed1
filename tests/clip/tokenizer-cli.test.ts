import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BUNDLED_CLIP_VOCAB_PATH, loadClipTokenizer } from '../../src/analysis/clip/tokenizer.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import { runTokenize } from '../../src/cli/tokenize.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'loralens-vocab-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the CLIP vocabulary ships with loralens', () => {
  test('the default vocabulary is assets/models in the package, found relative to the code', () => {
    assert.equal(BUNDLED_CLIP_VOCAB_PATH, resolve(repoRoot, 'assets/models/bpe_simple_vocab_16e6.txt.gz'));
  });

  test('tokenize needs no --vocab and no download: "a photo of a cat" gives the published ids', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => {
      text += c.toString();
    });
    await runTokenize(Readable.from(['{"text":"a photo of a cat"}\n']), out);
    const row = JSON.parse(text) as { ids: number[] };
    assert.deepEqual(row.ids.slice(0, 8), [49406, 320, 1125, 539, 320, 2368, 49407, 0]);
    await loadClipTokenizer();
  });

  test('a re-compressed copy of the same vocabulary is accepted', async () => {
    const copy = join(dir, 'recompressed.txt.gz');
    await writeFile(copy, gzipSync(gunzipSync(await readFile(BUNDLED_CLIP_VOCAB_PATH)), { level: 1 }));
    const tok = await loadClipTokenizer(copy);
    assert.deepEqual(tok.encode('a photo of a cat'), [320, 1125, 539, 320, 2368]);
  });
});

describe('loralens tokenize --vocab with a wrong file: exit 2, which check failed, which path', () => {
  const run = (path: string) => runCliCaptured(['tokenize', '--vocab', path], {});

  test('a missing file', async () => {
    const path = join(dir, 'nope.txt.gz');
    const r = await run(path);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `error: The CLIP vocabulary ${path} does not exist. Pass --vocab a copy of bpe_simple_vocab_16e6.txt.gz, or leave --vocab out to use the one that ships with loralens.\n`,
    );
  });

  test('a directory', async () => {
    const path = join(dir, 'a-dir');
    await mkdir(path);
    const r = await run(path);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`^error: The CLIP vocabulary ${path} is a directory, not a file\\. `));
  });

  test('a file that is not gzip', async () => {
    const path = join(dir, 'plain.txt');
    await writeFile(path, '#version: 0.2\nh e\n');
    const r = await run(path);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(
        `^error: The CLIP vocabulary ${path} is not a gzip file \\(it should be bpe_simple_vocab_16e6\\.txt\\.gz\\)\\. Pass --vocab`,
      ),
    );
  });

  test('a damaged gzip file', async () => {
    const path = join(dir, 'truncated.txt.gz');
    const gz = await readFile(BUNDLED_CLIP_VOCAB_PATH);
    await writeFile(path, gz.subarray(0, 5000));
    const r = await run(path);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`^error: The CLIP vocabulary ${path} is a damaged gzip file \\(`));
  });

  test('gzip of something that is not a merges file', async () => {
    const path = join(dir, 'junk.txt.gz');
    await writeFile(path, gzipSync(Buffer.from('not a vocabulary at all\n')));
    const r = await run(path);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `error: The CLIP vocabulary ${path} does not hold CLIP's 48894 BPE merges (CLIP merges file has 1 merges). Pass --vocab a copy of bpe_simple_vocab_16e6.txt.gz, or leave --vocab out to use the one that ships with loralens.\n`,
    );
  });

  test('a merges file of the right shape that is not CLIP’s (sha256 check)', async () => {
    const path = join(dir, 'edited.txt.gz');
    const lines = gunzipSync(await readFile(BUNDLED_CLIP_VOCAB_PATH))
      .toString('utf8')
      .split('\n');
    [lines[1], lines[2]] = [lines[2]!, lines[1]!];
    await writeFile(path, gzipSync(Buffer.from(lines.join('\n'))));
    const r = await run(path);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(
        `^error: The CLIP vocabulary ${path} is not CLIP's vocabulary \\(sha256 of its text is [0-9a-f]{12}…, expected 67603cfda2e0…\\)\\. Pass --vocab`,
      ),
    );
  });

  test('without --vocab, a missing shipped vocabulary says where it should be and how to restore it', async () => {
    const missing = join(dir, 'empty-assets', 'bpe_simple_vocab_16e6.txt.gz');
    await assert.rejects(
      runTokenize(Readable.from(['{"text":"x"}\n']), new PassThrough(), { bundledVocabPath: missing }),
      (e: unknown) =>
        hasCode(e, 'MODEL_MISSING') &&
        e.userFault &&
        e.userMessage ===
          `The CLIP vocabulary ${missing} does not exist. It ships with loralens: restore assets/models from the package (e.g. \`git checkout assets/models\`).`,
    );
  });
});
