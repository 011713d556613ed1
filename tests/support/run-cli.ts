import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real CLI in-process with captured output and an explicit environment. */
export async function runCliCaptured(argv: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const out = new PassThrough();
  const err = new PassThrough() as PassThrough & { isTTY?: boolean };
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  err.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await runCli(argv, { stdout: out, stderr: err as unknown as NodeJS.WriteStream, env });
  return { code, stdout, stderr };
}
