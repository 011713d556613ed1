import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { needsShared } from '../support/requirements.ts';
import { runCliCaptured } from '../support/run-cli.ts';
import { sharedCatalogue } from '../support/shared-catalogue.ts';

// Interrupting a top-N audit (Ctrl-C / SIGTERM) must never leave a record in the cache that the
// shutdown itself degraded: the resumed run must give the same metrics.csv as an uninterrupted one.
describe('interrupted runs (needs ../shared)', needsShared(), () => {
  const catalogue = sharedCatalogue(40);
  const N = '12';
  const tmp = (prefix = 'loralens-int-') => mkdtempSync(join(tmpdir(), prefix));
  const emptyModels = tmp('loralens-nomodels-');
  let slow: CivitaiReplay;
  let reference: string[][];

  const env = (store: string): NodeJS.ProcessEnv => ({
    CIVITAI_BASE_URL: slow.url,
    CIVITAI_API_KEY: 'k-interrupt-test-0123456789',
    LORALENS_STORE_URL: store,
    LORALENS_MODELS_DIR: emptyModels,
    CIVITAI_RATE_PER_SECOND: '200',
    LOG_LEVEL: 'silent',
  });

  const metrics = (dir: string): string[][] => parse(readFileSync(join(dir, 'metrics.csv'), 'utf8'));

  before(async () => {
    // Slow enough that the signal lands mid-crawl, with several requests in flight.
    slow = await startCivitaiReplay({ catalogue, delayMs: 50 });
    const out = tmp();
    const r = await runCliCaptured(['audit', '--top', N, '--out', out], env('memory://'));
    assert.equal(r.code, 0, r.stderr);
    reference = metrics(out);
    // Model rows (image rows follow them: the bias analysis' per-image values).
    assert.equal(reference.filter((row) => row[0] === 'model').length, Number(N));
  });
  after(() => slow.close());

  /**
   * Spawn the real CLI, signal it `delayMs` after its progress output first matches `when`, and wait
   * for it to exit.
   */
  async function interrupted(
    store: string,
    signal: NodeJS.Signals,
    when: RegExp,
    delayMs: number,
    twice = false,
  ): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'audit', '--top', N, '--out', tmp()],
      { env: { ...process.env, ...env(store) }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    let armed = false;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const signalled = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (armed || !when.test(stderr)) return;
        armed = true;
        setTimeout(() => {
          child.kill(signal);
          // A second signal right after the first: stop at once.
          if (twice) setTimeout(() => child.kill(signal), 30);
          resolve();
        }, delayMs);
      });
      void exited.then((code) => {
        if (!armed) reject(new Error(`the CLI exited (code ${code}) before it was signalled: ${stderr}`));
      });
    });
    await signalled;
    return { code: await exited, stderr };
  }

  describe('an interrupted top-N audit resumes to the same metrics.csv', () => {
    // Points: while listing, as crawling starts, and twice mid-crawl (models in flight, some cached).
    const cases: Array<[NodeJS.Signals, RegExp, number, boolean]> = [
      ['SIGINT', /listing 0\//, 0, false],
      ['SIGTERM', /crawling /, 0, false],
      ['SIGINT', /crawling /, 250, false],
      ['SIGTERM', /crawling /, 700, false],
      ['SIGINT', /crawling /, 400, true],
    ];
    for (const [signal, when, delayMs, twice] of cases) {
      test(`${signal}${twice ? ' twice' : ''} ${delayMs} ms after "${when.source}"`, async () => {
        const store = `sqlite://${join(tmp(), 'cache.sqlite')}`;
        const first = await interrupted(store, signal, when, delayMs, twice);

        const out = tmp();
        const resumed = await runCliCaptured(['audit', '--top', N, '--out', out], env(store));
        assert.equal(resumed.code, 0, resumed.stderr);
        const rows = metrics(out);
        assert.deepEqual(rows[0], reference[0], 'same columns');
        for (const [i, row] of rows.entries()) {
          assert.deepEqual(row, reference[i], `row ${i} (model ${row[1]}) equals the uninterrupted run`);
        }
        assert.equal(rows.length, reference.length);
        assert.match(first.stderr, /interrupted/);
        assert.doesNotMatch(first.stderr, /\n\s+at /, `no stack trace: ${first.stderr}`);
        assert.equal(first.code, signal === 'SIGINT' ? 130 : 143, first.stderr);
      });
    }
  });
});
