import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SELECTION_KEYS } from '../../src/cli/main.ts';
import { SELECTION_FLAG_KEYS } from '../../src/cli/selection.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Every module URL resolved while running `loralens <args>` (a resolve hook logs them to stderr). */
function modulesLoadedBy(args: string[]): string[] {
  const hooks = `data:text/javascript,${encodeURIComponent(
    "import { writeSync } from 'node:fs'; export async function resolve(s, c, next) { const r = await next(s, c); writeSync(2, 'RESOLVED ' + r.url + '\\n'); return r; }",
  )}`;
  const register = `data:text/javascript,${encodeURIComponent(
    `import { register } from 'node:module'; register(${JSON.stringify(hooks)});`,
  )}`;
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', register, 'src/cli/main.ts', ...args],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, LOG_LEVEL: 'silent' },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: loralens/);
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('RESOLVED '))
    .map((l) => l.slice('RESOLVED '.length));
}

describe('CLI start-up', () => {
  test('`loralens --help` loads no native module, schema library or HTTP client', () => {
    const loaded = modulesLoadedBy(['--help']);
    assert.ok(
      loaded.some((u) => u.includes('/commander/')),
      'the hook saw the modules (commander is loaded)',
    );
    for (const heavy of [
      'onnxruntime-node',
      'sharp',
      'sqlite3',
      '@keyv',
      'discord.js',
      'zod',
      'undici',
      'pino',
    ]) {
      const hit = loaded.filter((u) => u.includes(`/node_modules/${heavy}/`));
      assert.deepEqual(hit, [], `${heavy} was loaded for --help`);
    }
  });

  test('the CLI’s copy of the selection flag names matches selection.ts', () => {
    assert.deepEqual([...SELECTION_KEYS], [...SELECTION_FLAG_KEYS]);
  });
});
