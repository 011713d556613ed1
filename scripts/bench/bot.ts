/**
 * Bot load benchmark: 200 `/audit model` interactions from 20 servers within 10 s against the real
 * bot on the fake Discord and the real audit service on the Civitai replay (loopback), once plain
 * and once while a hostile-HTML model is audited. Each run is a child process (same measurement as
 * tests/bot/load.test.ts); a run that stalls is reported as such.
 */
import { spawnSync } from 'node:child_process';
import type { LoadFigures } from '../../tests/bot/support/load.ts';
import type { BenchSection } from './types.ts';

const LIMIT_MS = 180_000;

function runOnce(hostile: boolean): LoadFigures | string {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'tests/bot/support/load.ts', ...(hostile ? ['--hostile'] : [])],
    { encoding: 'utf8', timeout: LIMIT_MS, maxBuffer: 16 * 1024 * 1024, env: { ...process.env } },
  );
  const line = r.stdout?.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as LoadFigures;
  } catch {
    return r.error ? `stalled or failed: ${r.error.message}` : `failed (exit ${r.status})`;
  }
}

export async function run(): Promise<BenchSection> {
  const rows: BenchSection['rows'] = [];
  const notes: string[] = [];
  for (const hostile of [false, true]) {
    const f = runOnce(hostile);
    const scenario = hostile ? '200 /audit + hostile model' : '200 /audit, 20 servers, 10 s';
    if (typeof f === 'string') {
      rows.push({ scenario, result: f });
      continue;
    }
    const late = f.ackMs.filter((ms) => ms === null || ms >= 3_000).length;
    rows.push({
      scenario,
      ack_p50_ms: f.ackP50,
      ack_p95_ms: f.ackP95,
      ack_max_ms: f.ackMax,
      acked_late: late,
      loop_p50_ms: f.loopP50,
      loop_p95_ms: f.loopP95,
      loop_p99_ms: f.loopP99,
      loop_max_ms: f.loopMax,
      reports: f.outcomes.report,
      busy: f.outcomes.busy,
      errors: f.outcomes.error,
      lost: f.lost,
      audits: f.auditCalls,
      joined: f.shared,
      wall_s: Math.round(f.wallMs / 100) / 10,
    });
  }
  notes.push('ack = interaction dispatch → callback received by the fake Discord (target < 3 s)');
  notes.push(
    'loop = event-loop delay (perf_hooks.monitorEventLoopDelay); goal (issue #16): p99 < 50 ms during audits; target: longest block <= 100 ms',
  );
  notes.push('bot, fake Discord and replay share one process, so their work adds to the figures');
  return { name: 'bot load', rows, notes };
}
