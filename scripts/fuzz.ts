import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bugCount, formatTable, runTarget, type TargetReport } from '../tests/fuzz/harness.ts';
import { TARGETS } from '../tests/fuzz/targets.ts';

/**
 * `npm run fuzz`: seeded fast-check over every parser and analysis entry point (tests/fuzz/targets.ts),
 * each input in a worker thread with a time and heap limit. Prints a table per target, writes
 * bench-results/fuzz.json, exits 1 when any target found a bug (untyped exception, broken output
 * invariant, input over --slow-ms, heap blow-up). Reproduce a bug with the printed seed and path.
 */

const HELP = `usage: npm run fuzz -- [options]
  --cases N        inputs per target (default 10000)
  --seed S         master seed (default 20260301); each target derives its own from it
  --target NAME    only this target (repeatable; comma lists too)
  --replay PATH    replay one counterexample path printed by an earlier run (with --seed and --target)
  --slow-ms MS     an input slower than this, plus 0.5 ms per 1 000 characters of a text input, is a bug (default 1000)
  --timeout-ms MS  terminate the worker when one input runs this long (default 10000)
  --heap-mb MB     worker heap limit (default 512)
  --max-bugs N     stop a target after N bugs (default 10)
  --no-shrink      do not shrink the first bug of a target to a minimal input
  --jobs N         targets run at once (default 1)
  --out FILE       JSON report (default bench-results/fuzz.json)
targets: ${TARGETS.map((t) => t.name).join(', ')}`;

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '20260301' },
    target: { type: 'string', multiple: true },
    replay: { type: 'string' },
    'slow-ms': { type: 'string', default: '1000' },
    'timeout-ms': { type: 'string', default: '10000' },
    'heap-mb': { type: 'string', default: '512' },
    'max-bugs': { type: 'string', default: '10' },
    'no-shrink': { type: 'boolean', default: false },
    jobs: { type: 'string', default: '1' },
    out: { type: 'string', default: join('bench-results', 'fuzz.json') },
    help: { type: 'boolean', default: false },
  },
});

function int(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`error: --${name} must be a whole number ≥ ${min}, not "${value}".\n`);
    process.exit(2);
  }
  return n;
}

if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const names = (values.target ?? [])
  .flatMap((t) => t.split(','))
  .map((t) => t.trim())
  .filter(Boolean);
const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
if (unknown.length > 0) {
  process.stderr.write(`error: unknown target ${unknown.join(', ')}.\n${HELP}\n`);
  process.exit(2);
}
const selected = names.length === 0 ? TARGETS : TARGETS.filter((t) => names.includes(t.name));
const seed = int('seed', values.seed, -(2 ** 31));
const options = {
  cases: int('cases', values.cases, 1),
  seed,
  slowMs: int('slow-ms', values['slow-ms'], 1),
  hardTimeoutMs: int('timeout-ms', values['timeout-ms'], 1),
  heapMb: int('heap-mb', values['heap-mb'], 16),
  maxBugs: int('max-bugs', values['max-bugs'], 1),
  shrink: !values['no-shrink'],
  ...(values.replay === undefined ? {} : { path: values.replay }),
};
const jobs = int('jobs', values.jobs, 1);

process.stderr.write(
  `fuzzing ${selected.length} target(s), ${options.cases} cases each, seed ${seed}, slow > ${options.slowMs} ms, heap ${options.heapMb} MB\n`,
);
const reports: TargetReport[] = new Array(selected.length);
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(jobs, selected.length) }, async () => {
    while (next < selected.length) {
      const i = next++;
      const target = selected[i] as (typeof selected)[number];
      const report = await runTarget(target, {
        ...options,
        onCase: (done) => {
          if (jobs === 1 && process.stderr.isTTY && done % 250 === 0)
            process.stderr.write(`\r${target.name}: ${done}/${options.cases}`);
        },
      });
      if (jobs === 1 && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      process.stderr.write(
        `${target.name}: ${report.skipped ? `skipped (${report.skipped})` : `${report.cases} cases, ${bugCount(report)} bug(s), ${(report.wallMs / 1000).toFixed(1)} s`}\n`,
      );
      reports[i] = report;
    }
  }),
);

process.stdout.write(`\n${formatTable(reports)}\n`);
for (const r of reports.filter((x) => bugCount(x) > 0)) {
  process.stdout.write(`\n${r.target} (${r.entry})\n`);
  for (const b of r.bugs.slice(0, 3)) {
    process.stdout.write(
      `  case ${b.index}: ${b.outcome}${Number.isFinite(b.ms) ? ` after ${b.ms.toFixed(0)} ms` : ''}: ${b.error ? `${b.error.name}: ${b.error.message.slice(0, 200)}` : ''}\n    input ${b.input.slice(0, 300)}\n`,
    );
  }
  if (r.minimal) {
    process.stdout.write(
      `  minimal: ${r.minimal.outcome}: ${r.minimal.error ? `${r.minimal.error.name}: ${r.minimal.error.message.slice(0, 200)}` : ''}\n    input ${r.minimal.input.slice(0, 400)}\n    replay: npm run fuzz -- --target ${r.target} --seed ${seed} --replay '${r.minimal.path}'\n`,
    );
  }
}
await mkdir(join(values.out, '..'), { recursive: true });
await writeFile(
  values.out,
  `${JSON.stringify({ generatedAt: new Date().toISOString(), node: process.version, options: { ...options, jobs }, reports }, null, 2)}\n`,
);
process.stdout.write(`\nwrote ${values.out}\n`);
process.exitCode = reports.some((r) => bugCount(r) > 0) ? 1 : 0;
