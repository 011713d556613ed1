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
describe('text passes on 200 KB inputs finish well inside a hard 60 s limit', () => {
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
});
