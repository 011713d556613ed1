/**
 * `npm run check:install`: the install checks CI runs (`.ci/run`), offline.
 *
 * 1. package-lock.json is in sync with package.json (the lock's root entry lists the same
 *    dependencies with the same specs, and every direct dependency is in the lock).
 * 2. Every package that has an install script — `hasInstallScript` in the lock, and, when
 *    node_modules is there, a preinstall/install/postinstall script or a binding.gyp (npm runs
 *    `node-gyp rebuild` for those) — is covered by package.json `allowScripts`, allowed (`true`) or
 *    explicitly denied (`false`); and every `allowScripts` entry still matches such a package.
 * 3. npm is 11.19 or newer: `allowScripts` appeared in npm 11.16 as an advisory list (npm/cli#9415);
 *    11.19 is the release checked here to skip denied scripts and honour `strict-allow-scripts`.
 *
 * Exit code 0 when all hold, 1 with one line per problem otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const DEP_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;
const SCRIPT_HOOKS = ['preinstall', 'install', 'postinstall'] as const;
/** The oldest npm checked to enforce `allowScripts` (11.16 only printed advice, npm/cli#9415). */
export const MIN_NPM = [11, 19] as const;

const DepMap = z.record(z.string(), z.string());
export const PackageJson = z.object({
  name: z.string().optional(),
  version: z.string().optional(),
  dependencies: DepMap.optional(),
  devDependencies: DepMap.optional(),
  optionalDependencies: DepMap.optional(),
  peerDependencies: DepMap.optional(),
  allowScripts: z.record(z.string(), z.boolean()).optional(),
});
export type PackageJson = z.infer<typeof PackageJson>;

const LockEntry = z.looseObject({
  version: z.string().optional(),
  hasInstallScript: z.boolean().optional(),
  inBundle: z.boolean().optional(),
  link: z.boolean().optional(),
  dependencies: DepMap.optional(),
  devDependencies: DepMap.optional(),
  optionalDependencies: DepMap.optional(),
  peerDependencies: DepMap.optional(),
});
export const Lockfile = z.object({
  lockfileVersion: z.number(),
  packages: z.record(z.string(), LockEntry),
});
export type Lockfile = z.infer<typeof Lockfile>;

/** What an installed package directory says about its install scripts. */
export interface InstalledInfo {
  scripts: Partial<Record<(typeof SCRIPT_HOOKS)[number], string>>;
  bindingGyp: boolean;
  gypfile?: boolean;
}

export interface ScriptPackage {
  name: string;
  version: string;
  /** e.g. "postinstall: node install.js" or "binding.gyp: node-gyp rebuild". */
  why: string;
}

/** The package name of a lock path: `node_modules/a/node_modules/@s/b` → `@s/b`. */
export function nameFromLockPath(path: string): string {
  const at = path.lastIndexOf('node_modules/');
  return at < 0 ? path : path.slice(at + 'node_modules/'.length);
}

/** Problems that make `npm ci` refuse the lockfile or install something else than package.json says. */
export function lockfileProblems(pkg: PackageJson, lock: Lockfile): string[] {
  const problems: string[] = [];
  if (lock.lockfileVersion < 2)
    problems.push(`package-lock.json is lockfileVersion ${lock.lockfileVersion}; npm 7 and newer write 3`);
  const root = lock.packages[''];
  if (!root) return [...problems, 'package-lock.json has no root entry (packages[""]): run npm install'];
  for (const field of DEP_FIELDS) {
    const want = pkg[field] ?? {};
    const have = (root[field] as Record<string, string> | undefined) ?? {};
    for (const [name, spec] of Object.entries(want)) {
      if (have[name] === undefined)
        problems.push(`${field}.${name} (${spec}) is in package.json but not in package-lock.json`);
      else if (have[name] !== spec)
        problems.push(`${field}.${name} is ${spec} in package.json but ${have[name]} in package-lock.json`);
    }
    for (const name of Object.keys(have))
      if (want[name] === undefined)
        problems.push(`${field}.${name} is in package-lock.json but no longer in package.json`);
  }
  for (const field of ['dependencies', 'devDependencies'] as const)
    for (const name of Object.keys(pkg[field] ?? {}))
      if (!lock.packages[`node_modules/${name}`])
        problems.push(
          `${name} is a direct dependency but package-lock.json installs no node_modules/${name}`,
        );
  return problems;
}

/**
 * Packages with an install script: lock entries marked `hasInstallScript`, and — when `inspect`
 * can read the installed directory — any with a preinstall/install/postinstall script or a
 * binding.gyp (npm's implicit `node-gyp rebuild`). Bundled packages never run scripts.
 */
export function installScriptPackages(
  lock: Lockfile,
  inspect?: (lockPath: string) => InstalledInfo | undefined,
): ScriptPackage[] {
  const found = new Map<string, ScriptPackage>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.inBundle || entry.link || !entry.version) continue;
    const name = nameFromLockPath(path);
    const info = inspect?.(path);
    let why: string | undefined;
    if (info) {
      const hook = SCRIPT_HOOKS.find((h) => info.scripts[h]);
      if (hook) why = `${hook}: ${info.scripts[hook]}`;
      else if (info.bindingGyp && info.gypfile !== false) why = 'binding.gyp: node-gyp rebuild';
    }
    if (!why && entry.hasInstallScript) why = 'hasInstallScript in package-lock.json';
    if (why) found.set(`${name}@${entry.version}`, { name, version: entry.version, why });
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

interface AllowKey {
  key: string;
  name: string;
  /** Exact versions, or undefined for a name-only key (`pkg`, `pkg@*`). */
  versions?: string[];
}

const EXACT = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** Parse an allowScripts key as npm does: name-only, or exact versions joined by `||`. */
export function parseAllowKey(key: string): AllowKey | string {
  const at = key.indexOf('@', key.startsWith('@') ? 1 : 0);
  const name = at < 0 ? key : key.slice(0, at);
  const spec = at < 0 ? '' : key.slice(at + 1).trim();
  if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i.test(name))
    return `allowScripts key "${key}" is not a package name`;
  if (spec === '' || spec === '*') return { key, name };
  const versions = spec.split('||').map((v) => v.trim());
  if (!versions.every((v) => EXACT.test(v)))
    return `allowScripts key "${key}" uses a range or tag, which npm ignores: use exact versions joined by "||" or the bare name`;
  return { key, name, versions };
}

/** Problems with `allowScripts` against the packages that have install scripts. */
export function allowScriptsProblems(
  allowScripts: Record<string, boolean> | undefined,
  packages: ScriptPackage[],
): string[] {
  const problems: string[] = [];
  const keys: AllowKey[] = [];
  for (const key of Object.keys(allowScripts ?? {})) {
    const parsed = parseAllowKey(key);
    if (typeof parsed === 'string') problems.push(parsed);
    else keys.push(parsed);
  }
  const matches = (k: AllowKey, p: ScriptPackage) =>
    k.name === p.name && (k.versions === undefined || k.versions.includes(p.version));
  for (const p of packages)
    if (!keys.some((k) => matches(k, p)))
      problems.push(
        `${p.name}@${p.version} (${p.why}) is neither allowed nor denied in package.json allowScripts: ` +
          `run \`npm install-scripts approve ${p.name}\` or \`npm install-scripts deny ${p.name}\` and say why in README.md`,
      );
  for (const k of keys)
    if (!packages.some((p) => matches(k, p)))
      problems.push(
        `allowScripts entry "${k.key}" matches no installed package with an install script: remove it (npm install-scripts prune)`,
      );
  return problems;
}

/** A problem when npm is older than the first release that reads allowScripts. */
export function npmVersionProblem(version: string): string | undefined {
  const [major = 0, minor = 0] = version.trim().split('.').map(Number);
  const [wantMajor, wantMinor] = MIN_NPM;
  if (major > wantMajor || (major === wantMajor && minor >= wantMinor)) return undefined;
  return `npm ${version.trim()} does not enforce package.json allowScripts (npm ${wantMajor}.${wantMinor} or newer does): install scripts such as onnxruntime-node's GPU download would run; upgrade npm (npm install -g npm@11) or set ONNXRUNTIME_NODE_INSTALL=skip`;
}

/** Read an installed package directory for the install-script check. */
function inspectInstalled(root: string, lockPath: string): InstalledInfo | undefined {
  const dir = join(root, lockPath);
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as {
    scripts?: Record<string, string>;
    gypfile?: boolean;
  };
  const scripts: InstalledInfo['scripts'] = {};
  for (const hook of SCRIPT_HOOKS) {
    const body = pkg.scripts?.[hook];
    if (body) scripts[hook] = body;
  }
  return {
    scripts,
    bindingGyp: existsSync(join(dir, 'binding.gyp')),
    ...(pkg.gypfile === undefined ? {} : { gypfile: pkg.gypfile }),
  };
}

/** Every check against a project directory; `npmVersion` undefined skips the npm check. */
export function checkProject(
  root: string,
  npmVersion: string | undefined,
): { problems: string[]; scripts: ScriptPackage[] } {
  const pkg = PackageJson.parse(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')));
  const lockPath = join(root, 'package-lock.json');
  if (!existsSync(lockPath))
    return { problems: ['package-lock.json is missing: run npm install and commit it'], scripts: [] };
  const lock = Lockfile.parse(JSON.parse(readFileSync(lockPath, 'utf8')));
  const installed = existsSync(join(root, 'node_modules'));
  const scripts = installScriptPackages(lock, installed ? (p) => inspectInstalled(root, p) : undefined);
  const problems = [...lockfileProblems(pkg, lock), ...allowScriptsProblems(pkg.allowScripts, scripts)];
  const npm = npmVersion === undefined ? undefined : npmVersionProblem(npmVersion);
  if (npm) problems.push(npm);
  return { problems, scripts };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' });
  const { problems, scripts } = checkProject(root, npm.status === 0 ? npm.stdout : undefined);
  for (const p of problems) console.error(`check-install: ${p}`);
  if (problems.length > 0) process.exit(1);
  console.log(
    `check-install: lockfile in sync; ${scripts.length} packages with install scripts, each allowed or denied in allowScripts (${scripts.map((s) => s.name).join(', ')})`,
  );
}
