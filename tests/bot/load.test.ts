import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { needsShared } from '../support/requirements.ts';
import { describeLoad, type LoadFigures } from './support/load.ts';

const repoRoot = new URL('../../', import.meta.url).pathname;
const SETTLE_MS = 90_000;

/**
 * Runs tests/bot/support/load.ts in its own process (bot, fake Discord and Civitai replay together),
 * so a blocked event loop shows in its figures and cannot stall this runner: killed after a limit.
 */
function runLoad(
  hostile: boolean,
): Promise<{ figures: LoadFigures | null; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'tests/bot/support/load.ts', ...(hostile ? ['--hostile'] : [])],
      {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', LOAD_SETTLE_MS: String(SETTLE_MS) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), SETTLE_MS + 60_000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      const line = stdout.trim().split('\n').at(-1) ?? '';
      let figures: LoadFigures | null = null;
      try {
        figures = JSON.parse(line) as LoadFigures;
      } catch {
        figures = null;
      }
      resolve({ figures, stderr, code });
    });
  });
}

function assertServed(f: LoadFigures, allowErrors: number): void {
  const late = f.ackMs.filter((ms) => ms === null || ms >= 3_000);
  assert.equal(
    late.length,
    0,
    `not acknowledged within 3 s: ${late.length} (${late.slice(0, 10).join(', ')})`,
  );
  assert.equal(f.lost, 0, 'every interaction ends with a report, a busy sentence or one error sentence');
  assert.ok(f.outcomes.error <= allowErrors, `unexpected error replies: ${f.outcomes.error}`);
  assert.equal(f.outcomes.report + f.outcomes.busy + f.outcomes.error, f.interactions);
  assert.equal(f.maxConcurrentSameSelection, 1, 'identical requests never ran as two audits at once');
  assert.ok(f.shared > 0, 'duplicates joined queued or running jobs');
  assert.ok(f.auditCalls < f.interactions, `${f.auditCalls} audits for ${f.interactions} requests`);
}

// The load child builds its catalogue from ../shared's recorded responses.
describe('bot under load (fake Discord + Civitai replay on loopback)', needsShared(), () => {
  test('200 /audit from 20 servers within 10 s: each acknowledged within 3 s, none lost, duplicates collapsed', async (t) => {
    const { figures, stderr, code } = await runLoad(false);
    assert.ok(figures, `load run produced no figures (exit ${code}): ${stderr.slice(-2000)}`);
    t.diagnostic(describeLoad(figures));
    console.log(`bot load: ${describeLoad(figures)}`);
    assertServed(figures, 0);
  });

  test('the same while a hostile-HTML model (20 000 nested tags, 1 MB comment) is audited', async (t) => {
    const { figures, stderr, code } = await runLoad(true);
    assert.ok(
      figures,
      `load run with the hostile model stalled or crashed (exit ${code}); the event loop was blocked: ${stderr.slice(-2000)}`,
    );
    t.diagnostic(describeLoad(figures));
    console.log(`bot load (hostile): ${describeLoad(figures)} — target: longest block <= 100 ms`);
    // The hostile model itself may end in one error sentence; everyone else is served.
    assertServed(figures, 1);
  });
});
