import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./long-input.child.ts', import.meta.url));
const LIMIT_MS = 60_000;

/** Runs one text pass in a child process killed after LIMIT_MS (a hard backstop, not a benchmark). */
function runInChild(pass: string, unit: string, chars: number): Record<string, unknown> {
  const run = spawnSync(process.execPath, ['--import', 'tsx', CHILD, pass, unit, String(chars)], {
    encoding: 'utf8',
    timeout: LIMIT_MS,
  });
  assert.equal(run.signal, null, `${pass} was killed at the ${LIMIT_MS / 1000} s limit`);
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

// Each input took minutes before the fix (quadratic: 34 KB of the mixed reports took 15 s, 80 KB of
// `x (y) ` prompt text 17 s); linear code takes about a second, so the 60 s kill is a backstop only.
describe('text passes on 200 KB to 1 MB inputs finish well inside a hard 60 s limit', () => {
  it('scanText: dense reports in four scripts without sentence punctuation', () => {
    const out = runInChild('scan', 'wrong tags 标签错了 タグミス 태그 오류 ', 200_000);
    assert.equal(out.flag, true);
    assert.equal(out.evidence, 1, 'one evidence sentence, cut to a bounded span');
  });

  it('scanText: English reports separated by clause words only', () => {
    const out = runInChild('scan', 'the tags are wrong but the trigger word is off, ', 200_000);
    assert.equal(out.flag, true);
    assert.equal(out.evidence, 1, 'one evidence sentence, cut to a bounded span');
  });

  it('cleanPrompt: qualifiers after words (each one used to re-read the whole output)', () => {
    assert.ok((runInChild('clean', 'x (y) ', 200_000).length as number) > 100_000);
  });

  it('cleanPrompt: escaped parentheses that never close', () => {
    assert.equal(typeof runInChild('clean', '\\(', 200_000).length, 'number');
  });

  it('cleanPrompt: empty groups and schedules', () => {
    assert.equal(typeof runInChild('clean', '()[a|b][c:d:0.5]', 200_000).length, 'number');
  });

  it('normalizeForMatching: unterminated HTML comments', () => {
    assert.equal(runInChild('normalize', '<!--', 200_000).length, 200_000);
  });

  it('cleanPrompt: escaped HTML with a qualifier-like `alert(1)` in every unit (1 MB)', () => {
    // 2 879 units (106 KB) took 2.4 s before the qualifier fix and the cost grew with the square.
    const unit = '&lt;script&gt;alert(1)&lt;/script&gt;';
    assert.equal(runInChild('clean', unit, 1_000_000).length, 1_000_000);
  });

  it('clipCleanText: a whitespace run inside the text (each position retried `[ws]+$`)', () => {
    // 40 000 spaces took 0.9 s, 200 000 took 25 s, and the cost grew with the square.
    assert.deepEqual(runInChild('clip-text', ' ', 600_000), { text: 'link end' });
  });

  it('CLIP tokenizer: one 400 KB word of letters is read only as far as the kept windows need', () => {
    // BPE of one word costs its length times the merges applied: 40 KB of random letters took 10 s whole.
    let seed = 7;
    let unit = '';
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      unit += String.fromCharCode(97 + (seed % 26));
    }
    const out = runInChild('clip-tokens', unit, 400_000);
    assert.deepEqual(out, { nTokens: 602, capped: true, windows: 8 });
  });
});
