import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bugCount, runTarget } from './harness.ts';
import { TARGETS } from './targets.ts';

/**
 * The short seeded fuzz run of `npm test`: every target (tests/fuzz/targets.ts) for 200 inputs with
 * a fixed seed, hostile generators included. `npm run fuzz` runs the same targets for 10 000.
 * Each input runs in a worker thread (heap limit 512 MB); an input over 1 s (plus 0.5 ms per 1 000
 * characters of a text input) is a bug, and one that has not answered after 5 s is terminated and
 * counted slow.
 */
const CASES = 200;
const SEED = 20260301;

describe('fuzz: 200 seeded inputs per entry point, 0 untyped exceptions, 0 inputs over 1 s, 0 heap blow-ups', () => {
  for (const target of TARGETS) {
    test(`${target.name}: ${target.entry}`, async (t) => {
      const report = await runTarget(target, {
        cases: CASES,
        seed: SEED,
        slowMs: 1000,
        hardTimeoutMs: 5000,
        heapMb: 512,
        maxBugs: 1,
      });
      if (report.skipped) {
        t.skip(report.skipped);
        return;
      }
      const bug = report.bugs[0];
      assert.equal(
        bugCount(report),
        0,
        bug &&
          `${target.name} case ${bug.index} (seed ${SEED}; npm run fuzz -- --target ${target.name} --seed ${SEED}): ${bug.outcome}${Number.isFinite(bug.ms) ? ` after ${bug.ms.toFixed(0)} ms` : ''}: ${bug.error?.name ?? ''}: ${bug.error?.message ?? ''}\ninput ${bug.input}`,
      );
      assert.equal(report.cases, CASES);
    });
  }
});
