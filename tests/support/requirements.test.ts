import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isCi, MissingRequirementError, REDIS_MISSING, requirement, sharedMissing } from './requirements.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

describe('requirement(): skip on a developer machine, fail in CI', () => {
  test('an available requirement gives no options', () => {
    assert.deepEqual(requirement(true, 'needs x', false), {});
    assert.deepEqual(requirement(true, 'needs x', true), {});
  });

  test('a missing one is a skip with the reason, outside CI', () => {
    assert.deepEqual(requirement(false, 'needs x', false), { skip: 'needs x' });
  });

  test('a missing one under CI=true throws, naming what is missing', () => {
    assert.throws(
      () => requirement(false, 'needs x', true),
      (e: unknown) =>
        e instanceof MissingRequirementError && /CI=true/.test(e.message) && /needs x/.test(e.message),
    );
  });

  test('CI is detected from CI=true or CI=1 only', () => {
    assert.equal(isCi({ CI: 'true' }), true);
    assert.equal(isCi({ CI: '1' }), true);
    assert.equal(isCi({ CI: 'TRUE' }), true);
    assert.equal(isCi({ CI: 'false' }), false);
    assert.equal(isCi({ CI: '' }), false);
    assert.equal(isCi({}), false);
  });
});

// The real test files, run as a plain clone would: no ../shared beside the repository and no
// redis-server on the PATH (the child gets an empty PATH; node and tsx need none).
const SUBJECTS = [
  'tests/civitai/crawl.test.ts', // read ../shared when the module loaded
  'tests/civitai/html.test.ts', // reads ../shared inside one test
  'tests/support/fixtures/storage-contract-probe.ts', // the storage contract helper, Redis included
];

const empty = mkdtempSync(join(tmpdir(), 'loralens-req-'));
after(() => rmSync(empty, { recursive: true, force: true }));

function runSubjects(ci: boolean): Promise<{ code: number | null; out: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.REDIS_URL;
  delete env.NODE_TEST_CONTEXT; // a test run of its own, not a subtest of this one
  env.CI = ci ? 'true' : '';
  env.PATH = empty;
  env.LORALENS_TEST_SHARED_DIR = join(empty, 'shared');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=1', ...SUBJECTS],
    { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

describe('a plain clone: no ../shared, no redis-server', () => {
  test('the tests that need them are skipped with one line naming what is missing; the rest pass', async () => {
    const { code, out } = await runSubjects(false);
    assert.equal(code, 0, out);
    assert.match(out, /^# fail 0$/m, out);
    assert.match(out, /^# cancelled 0$/m, out);
    assert.doesNotMatch(out, /ENOENT/, out);
    const skips = out.split('\n').filter((l) => l.includes('# SKIP'));
    const sharedLine = `# SKIP ${sharedMissing(`${join(empty, 'shared')}/`)}`;
    assert.ok(
      skips.some((l) => l.endsWith(sharedLine)),
      `a ../shared skip line naming the folder it looked for\n${out}`,
    );
    assert.ok(
      skips.some((l) => /contract probe \[redis\]/.test(l) && l.endsWith(`# SKIP ${REDIS_MISSING}`)),
      `one skipped Redis suite\n${out}`,
    );
    // The project's own tests in those files still run.
    assert.match(out, /^ {4}ok \d+ - a model URL with a version id parses; junk does not$/m, out);
    assert.match(out, /^ok \d+ - contract probe \[sqlite\]$/m, out);
  });

  test('under CI=true the same run fails, saying what CI must provide', async () => {
    const { code, out } = await runSubjects(true);
    assert.notEqual(code, 0, out);
    assert.match(out, /CI=true, where nothing may skip, and this test needs \.\.\/shared/, out);
    assert.match(out, /CI=true, where nothing may skip, and this test needs redis-server on the PATH/, out);
    assert.doesNotMatch(out, /# SKIP/, out);
  });
});
