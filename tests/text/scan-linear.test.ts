import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./long-scan.child.ts', import.meta.url));

/** Runs the scan in a child process that is killed after `timeoutMs` (a hard backstop, not a benchmark). */
function scanInChild(kind: string, chars: number, timeoutMs: number) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', CHILD, kind, String(chars)], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { signal: run.signal, status: run.status, stderr: run.stderr, out: run.stdout.trim() };
}

describe('scanText on long text without sentence punctuation', () => {
  // Before the rewrite every match re-scanned its whole sentence: 34 KB of this text took 15 s, so
  // 200 KB took minutes. Linear code takes about a second; the 60 s kill is a backstop only.
  for (const kind of ['mixed', 'clauses']) {
    it(`finishes 200 KB of "${kind}" reports well inside a hard 60 s limit`, () => {
      const run = scanInChild(kind, 200_000, 60_000);
      assert.equal(run.signal, null, 'the scan was killed at the time limit');
      assert.equal(run.status, 0, run.stderr);
      const summary = JSON.parse(run.out) as { flag: boolean; evidence: number };
      assert.equal(summary.flag, true);
      assert.ok(summary.evidence > 1000, `${summary.evidence} pieces of evidence`);
    });
  }
});
