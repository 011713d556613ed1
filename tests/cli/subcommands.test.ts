import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCliCaptured } from '../support/run-cli.ts';

test('loralens scan-text FILE writes one JSON line per input line; a malformed line gets an error line', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'loralens-scan-')), 'in.jsonl');
  writeFileSync(
    file,
    [
      JSON.stringify({ id: 'a', text: 'The trigger word is wrong, the captions say vsk94.' }),
      '{"id": "b", "text": ',
      JSON.stringify({ id: 3, text: '标签没有错，效果很好' }),
    ].join('\n'),
  );
  const r = await runCliCaptured(['scan-text', file], {});
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.equal(lines[0].id, 'a');
  assert.equal(lines[0].flag, true);
  assert.deepEqual(Object.keys(lines[0]).sort(), ['evidence', 'flag', 'id', 'lang', 'score']);
  assert.ok('error' in lines[1]);
  assert.equal(lines[2].id, 3);
  assert.equal(lines[2].flag, false);
  assert.equal(lines[2].lang, 'zh');
  assert.match(r.stderr, /scanned 3 line\(s\), 1 malformed/);
});

test('loralens scan-text with a missing file is a user error (exit 2)', async () => {
  const r = await runCliCaptured(['scan-text', '/nonexistent/in.jsonl'], {});
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: Cannot read \/nonexistent\/in\.jsonl/);
});

test('loralens tokenize reads stdin and prints CLIP ids with the shipped vocabulary (real process)', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'tokenize'], {
    input: `${JSON.stringify({ text: 'a photo of a cat' })}\n`,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim());
  // openai/CLIP: tokenize("a photo of a cat") = [49406, 320, 1125, 539, 320, 2368, 49407, 0, …]
  assert.deepEqual(out.ids.slice(0, 8), [49406, 320, 1125, 539, 320, 2368, 49407, 0]);
  assert.equal(out.ids.length, 77);
  assert.equal(out.n_tokens, 7);
  assert.equal(out.truncated, false);
});
