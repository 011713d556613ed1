import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What a test needs from outside the repository, and what happens when it is missing.
 *
 * On a developer's machine a missing requirement skips the test or suite with one line naming what
 * is missing. Under `CI=true` nothing may skip: `.ci/run` installs Redis and CI always has
 * `../shared`, so a missing requirement is thrown as a failure with the same sentence.
 */

/** node:test options for `test(name, options, fn)` / `describe(name, options, fn)`. */
export interface Requirement {
  skip?: string;
}

/** Thrown under CI=true instead of skipping: the CI machine lacks something it must provide. */
export class MissingRequirementError extends Error {
  override readonly name = 'MissingRequirementError';
}

/** True when the process runs in CI (`CI=true` or `CI=1`, as CI services set it). */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(true|1)$/i.test(env.CI ?? '');
}

/**
 * The requirement's verdict: `{}` when available, `{ skip: reason }` when not, and under CI a
 * `MissingRequirementError` saying that CI must provide it.
 */
export function requirement(available: boolean, reason: string, ci = isCi()): Requirement {
  if (available) return {};
  if (ci) throw new MissingRequirementError(`CI=true, where nothing may skip, and this test ${reason}`);
  return { skip: reason };
}

/**
 * The sibling folder `../shared` (recorded real Civitai fixtures, a real LoRA header, real images and
 * small models); read-only, never copied into the repository. `LORALENS_TEST_SHARED_DIR` points
 * the tests at another copy.
 */
export const SHARED_DIR = `${resolve(
  process.env.LORALENS_TEST_SHARED_DIR || fileURLToPath(new URL('../../../shared/', import.meta.url)),
)}/`;

/** The one line a test that needs ../shared is skipped with. */
export const sharedMissing = (dir: string): string =>
  `needs ../shared (recorded Civitai fixtures and small models), missing at ${dir}`;
export const SHARED_MISSING = sharedMissing(SHARED_DIR);

export function sharedAvailable(): boolean {
  try {
    return statSync(SHARED_DIR).isDirectory();
  } catch {
    return false;
  }
}

/** Options for a test or suite that reads ../shared (see `requirement`). */
export function needsShared(): Requirement {
  return requirement(sharedAvailable(), SHARED_MISSING);
}

/** The path of a file under ../shared; a clear error (not a raw ENOENT) when the folder is missing. */
export function sharedPath(relative: string): string {
  if (!sharedAvailable()) throw new MissingRequirementError(SHARED_MISSING);
  return `${SHARED_DIR}${relative}`;
}

/** The one line a Redis test is skipped with. */
export const REDIS_MISSING =
  'needs redis-server on the PATH (apt-get install redis-server) or REDIS_URL; .ci/run installs it';

let redisInstalled: boolean | undefined;

/** REDIS_URL is set, or a `redis-server` binary runs (checked once per process). */
export function redisAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.REDIS_URL) return true;
  redisInstalled ??= spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  return redisInstalled;
}

/** Options for a test or suite that needs Redis (see `requirement`). */
export function needsRedis(): Requirement {
  return requirement(redisAvailable(), REDIS_MISSING);
}

/**
 * In-body form for a test whose options are already taken: skips `t` with the reason and returns
 * true when the requirement is missing (`requirement` already threw under CI=true).
 */
export function skipIfMissing(t: { skip(message?: string): void }, req: Requirement): boolean {
  if (!req.skip) return false;
  t.skip(req.skip);
  return true;
}

const commandCache = new Map<string, boolean>();

/** Whether `command` runs (looked up on the PATH once per process). */
export function commandAvailable(command: string, args: readonly string[] = ['-v']): boolean {
  if (!commandCache.has(command)) {
    const r = spawnSync(command, [...args], { stdio: 'ignore', timeout: 30_000 });
    commandCache.set(command, r.error === undefined);
  }
  return commandCache.get(command) ?? false;
}

/**
 * Options for a test that runs system commands (poppler-utils' pdfinfo/pdftotext/pdffonts/pdftoppm,
 * chromium): skipped with one line naming the Debian package when missing, a failure under CI=true
 * (`.ci/run` installs them).
 */
export function needsCommands(commands: readonly string[], debianPackage: string): Requirement {
  const missing = commands.filter((c) => !commandAvailable(c));
  return requirement(
    missing.length === 0,
    `needs ${missing.join(', ')} on the PATH (Debian package ${debianPackage}); .ci/run installs it`,
  );
}
