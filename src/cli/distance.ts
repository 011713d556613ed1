import { readFile } from 'node:fs/promises';
import { allDistances, featureMatrix, fidIsUnderdetermined } from '../analysis/bias/distance.ts';
import { UserInputError } from '../analysis/errors.ts';

export interface DistanceFlags {
  subsets: string;
  subsetSize: string;
  seed: string;
}

function wholeNumber(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UserInputError(`${flag} must be a whole number from ${min} to ${max}, not "${value}".`);
  }
  return n;
}

async function readFeatures(path: string, name: string) {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserInputError(
      code === 'ENOENT' ? `Cannot read ${path}: no such file.` : `Cannot read ${path} (${code ?? 'error'}).`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UserInputError(`${path} is not JSON (expected an array of equal-length number arrays).`);
  }
  return featureMatrix(value, name);
}

/**
 * `loralens distance A.json B.json`: one JSON object with FID, KID (whole-set and over subsets),
 * CMMD and the set sizes. Bad input is an INPUT_INVALID user error (exit 2).
 */
export async function runDistance(
  fileA: string,
  fileB: string,
  flags: DistanceFlags,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<void> {
  const subsets = wholeNumber(flags.subsets, '--subsets', 1, 10_000);
  const subsetSize = wholeNumber(flags.subsetSize, '--subset-size', 2, 1_000_000);
  const seed = wholeNumber(flags.seed, '--seed', 0, 2 ** 32 - 1);
  const a = await readFeatures(fileA, fileA);
  const b = await readFeatures(fileB, fileB);
  if (a.cols !== b.cols) {
    throw new UserInputError(`${fileA} has ${a.cols}-dimensional rows but ${fileB} has ${b.cols}.`);
  }
  const report = allDistances(a, b, { subsets, subsetSize, seed });
  io.stdout.write(`${JSON.stringify(report)}\n`);
  if (fidIsUnderdetermined(a.rows, b.rows, a.cols)) {
    io.stderr.write(
      `note: fid: ${Math.min(a.rows, b.rows)} rows is not more than the dimension ${a.cols}, so a covariance is singular and FID is unreliable\n`,
    );
  }
  if (subsetSize > Math.min(a.rows, b.rows)) {
    io.stderr.write(
      `note: kid subsets use ${Math.min(a.rows, b.rows)} rows (the smaller set), not ${subsetSize}\n`,
    );
  }
}
