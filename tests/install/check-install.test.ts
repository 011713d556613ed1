import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  allowScriptsProblems,
  checkProject,
  type InstalledInfo,
  installScriptPackages,
  type Lockfile,
  lockfileProblems,
  nameFromLockPath,
  npmVersionProblem,
  type PackageJson,
  parseAllowKey,
} from '../../scripts/check-install.ts';

const pkg = (extra: Partial<PackageJson> = {}): PackageJson => ({
  name: 'p',
  version: '1.0.0',
  dependencies: { a: '^1.0.0', native: '~2.1' },
  devDependencies: { tool: '^3.0.0' },
  ...extra,
});

const lock = (root: Record<string, unknown> = {}): Lockfile => ({
  lockfileVersion: 3,
  packages: {
    '': { dependencies: { a: '^1.0.0', native: '~2.1' }, devDependencies: { tool: '^3.0.0' }, ...root },
    'node_modules/a': { version: '1.2.0' },
    'node_modules/native': { version: '2.1.4', hasInstallScript: true },
    'node_modules/tool': { version: '3.0.1', dev: true },
    'node_modules/tool/node_modules/@s/gyp': { version: '0.1.0' },
    'node_modules/tool/node_modules/bundled': { version: '9.0.0', hasInstallScript: true, inBundle: true },
  },
});

describe('lockfile in sync with package.json', () => {
  test('the same dependencies and specs: no problem', () => {
    assert.deepEqual(lockfileProblems(pkg(), lock()), []);
  });

  test('a dependency added, changed or removed in package.json only is reported by name', () => {
    const problems = lockfileProblems(
      pkg({ dependencies: { a: '^1.1.0', fresh: '^1.0.0' }, devDependencies: { tool: '^3.0.0' } }),
      lock(),
    );
    assert.deepEqual(problems, [
      'dependencies.a is ^1.1.0 in package.json but ^1.0.0 in package-lock.json',
      'dependencies.fresh (^1.0.0) is in package.json but not in package-lock.json',
      'dependencies.native is in package-lock.json but no longer in package.json',
      'fresh is a direct dependency but package-lock.json installs no node_modules/fresh',
    ]);
  });

  test('an old lockfile and a lockfile without a root entry are refused', () => {
    assert.match(lockfileProblems(pkg(), { ...lock(), lockfileVersion: 1 })[0] ?? '', /lockfileVersion 1/);
    assert.match(lockfileProblems(pkg(), { lockfileVersion: 3, packages: {} }).join('\n'), /no root entry/);
  });
});

describe('packages with install scripts', () => {
  const installed: Record<string, InstalledInfo> = {
    'node_modules/a': { scripts: {}, bindingGyp: false },
    'node_modules/native': { scripts: { install: 'node-gyp-build' }, bindingGyp: true },
    'node_modules/tool': { scripts: { postinstall: 'node fetch-binary.js' }, bindingGyp: false },
    'node_modules/tool/node_modules/@s/gyp': { scripts: {}, bindingGyp: true },
  };

  test('from the lockfile alone: hasInstallScript, bundled ones left out', () => {
    assert.deepEqual(installScriptPackages(lock()), [
      { name: 'native', version: '2.1.4', why: 'hasInstallScript in package-lock.json' },
    ]);
  });

  test('from node_modules: lifecycle scripts and a bare binding.gyp (implicit node-gyp rebuild)', () => {
    assert.deepEqual(
      installScriptPackages(lock(), (p) => installed[p]),
      [
        { name: '@s/gyp', version: '0.1.0', why: 'binding.gyp: node-gyp rebuild' },
        { name: 'native', version: '2.1.4', why: 'install: node-gyp-build' },
        { name: 'tool', version: '3.0.1', why: 'postinstall: node fetch-binary.js' },
      ],
    );
  });

  test('gypfile: false turns the implicit binding.gyp build off', () => {
    const r = installScriptPackages(lock(), (p) =>
      p.endsWith('@s/gyp') ? { scripts: {}, bindingGyp: true, gypfile: false } : undefined,
    );
    assert.deepEqual(
      r.map((x) => x.name),
      ['native'],
    );
  });

  test('lock paths name nested and scoped packages', () => {
    assert.equal(nameFromLockPath('node_modules/a/node_modules/@s/b'), '@s/b');
    assert.equal(nameFromLockPath('node_modules/sharp'), 'sharp');
  });
});

describe('allowScripts covers every install script', () => {
  const scripts = [
    { name: 'native', version: '2.1.4', why: 'install: node-gyp-build' },
    { name: '@s/gyp', version: '0.1.0', why: 'binding.gyp: node-gyp rebuild' },
  ];

  test('allowed or explicitly denied, by name or exact version: no problem', () => {
    assert.deepEqual(allowScriptsProblems({ native: true, '@s/gyp@0.1.0 || 0.1.1': false }, scripts), []);
    assert.deepEqual(allowScriptsProblems({ 'native@*': false, '@s/gyp': true }, scripts), []);
  });

  test('an unlisted package is named with the command that fixes it', () => {
    const [problem, ...rest] = allowScriptsProblems({ native: true }, scripts);
    assert.equal(rest.length, 0);
    assert.match(
      problem ?? '',
      /^@s\/gyp@0\.1\.0 \(binding\.gyp: node-gyp rebuild\) is neither allowed nor denied/,
    );
    assert.match(problem ?? '', /npm install-scripts approve @s\/gyp/);
  });

  test('a pin to another version does not cover the installed one', () => {
    assert.equal(allowScriptsProblems({ 'native@2.1.3': true, '@s/gyp': true }, scripts).length, 2);
  });

  test('ranges and tags are refused (npm ignores them); stale entries are reported', () => {
    assert.match(String(parseAllowKey('native@^2.1.0')), /range or tag/);
    assert.match(String(parseAllowKey('native@latest')), /range or tag/);
    assert.deepEqual(parseAllowKey('@s/gyp@1.0.0||1.0.1'), {
      key: '@s/gyp@1.0.0||1.0.1',
      name: '@s/gyp',
      versions: ['1.0.0', '1.0.1'],
    });
    const problems = allowScriptsProblems({ native: true, '@s/gyp': false, gone: false }, scripts);
    assert.deepEqual(problems, [
      'allowScripts entry "gone" matches no installed package with an install script: remove it (npm install-scripts prune)',
    ]);
  });
});

describe('npm version', () => {
  test('npm 11.19 and newer enforce allowScripts; older ones are refused with what to do', () => {
    assert.equal(npmVersionProblem('11.19.0'), undefined);
    assert.equal(npmVersionProblem('11.19.1\n'), undefined);
    assert.equal(npmVersionProblem('12.0.0'), undefined);
    assert.match(npmVersionProblem('11.16.0') ?? '', /does not enforce package\.json allowScripts/);
    assert.match(npmVersionProblem('10.9.2') ?? '', /ONNXRUNTIME_NODE_INSTALL=skip/);
  });
});

describe('checkProject on a small project directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loralens-check-install-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, value: unknown) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), typeof value === 'string' ? value : JSON.stringify(value));
  };

  test('reads package.json, the lockfile and node_modules, and reports every problem', () => {
    write('package.json', pkg({ allowScripts: { native: true } }));
    write('package-lock.json', lock());
    write('node_modules/native/package.json', { scripts: { install: 'node-gyp-build' } });
    write('node_modules/tool/package.json', { scripts: { postinstall: 'node x.js' } });
    write('node_modules/a/package.json', {});
    let r = checkProject(dir, '11.19.1');
    assert.deepEqual(
      r.scripts.map((s) => s.name),
      ['native', 'tool'],
    );
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0] ?? '', /^tool@3\.0\.1 \(postinstall: node x\.js\)/);

    write('package.json', pkg({ allowScripts: { native: true, tool: false } }));
    r = checkProject(dir, '11.19.1');
    assert.deepEqual(r.problems, []);
    assert.equal(checkProject(dir, '10.9.0').problems.length, 1);
  });

  test('a missing lockfile is one problem', () => {
    rmSync(join(dir, 'package-lock.json'));
    assert.deepEqual(checkProject(dir, undefined).problems, [
      'package-lock.json is missing: run npm install and commit it',
    ]);
  });
});
