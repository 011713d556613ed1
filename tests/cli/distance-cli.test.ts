import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCliCaptured } from '../support/run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'loralens-distance-'));
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('loralens distance', () => {
  it('prints one JSON object matching the numpy reference', async () => {
    const ref = JSON.parse(
      readFileSync(new URL('../fixtures/distance/reference.json', import.meta.url), 'utf8'),
    ) as {
      cases: { a: number[][]; b: number[][]; expected: Record<string, number> }[];
    };
    const c = ref.cases[0]!;
    const a = file('a.json', JSON.stringify(c.a));
    const b = file('b.json', JSON.stringify(c.b));
    const run = await runCliCaptured(['distance', a, b, '--subsets', '20', '--subset-size', '100'], {});
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const out = JSON.parse(lines[0]!) as Record<string, number>;
    assert.deepEqual(Object.keys(out).sort(), [
      'cmmd',
      'dim',
      'fid',
      'kid_full',
      'kid_mean',
      'kid_std',
      'n_a',
      'n_b',
    ]);
    assert.deepEqual([out.n_a, out.n_b, out.dim], [300, 200, 16]);
    for (const key of ['fid', 'kid_full', 'cmmd']) {
      assert.ok(Math.abs(out[key]! - c.expected[key]!) <= 1e-3 * Math.abs(c.expected[key]!), key);
    }
    // Random subsets of 100: the mean lies near the whole-set value.
    assert.ok(Math.abs(out.kid_mean! - c.expected.kid_full!) < 0.5);
  });

  it('says when N is not above the dimension', async () => {
    const rows = (n: number) =>
      JSON.stringify(Array.from({ length: n }, (_, i) => [i, (i * i) % 7, (i * 3) % 5]));
    const run = await runCliCaptured(['distance', file('s.json', rows(3)), file('t.json', rows(5))], {});
    assert.equal(run.code, 0);
    assert.match(run.stderr, /fid: 3 rows is not more than the dimension 3/);
  });

  const cases: [string, string, string, RegExp][] = [
    ['ragged rows', '[[1,2],[3,4]]', '[[1,2],[3]]', /row 2 has 1 values, but row 1 has 2 \(ragged rows\)\./],
    ['NaN (as null)', '[[1,2],[3,4]]', '[[1,2],[null,4]]', /row 2, value 1 is not a finite number\./],
    ['fewer than 2 rows', '[[1,2]]', '[[1,2],[3,4]]', /has 1 row\(s\); at least 2 are needed\./],
    [
      'not JSON',
      'nope',
      '[[1,2],[3,4]]',
      /is not JSON \(expected an array of equal-length number arrays\)\./,
    ],
    ['different dimensions', '[[1,2],[3,4]]', '[[1,2,3],[3,4,5]]', /has 2-dimensional rows but .* has 3\./],
  ];
  for (const [name, a, b, message] of cases) {
    it(`exits 2 with one sentence for ${name}`, async () => {
      const run = await runCliCaptured(
        ['distance', file(`${name}-a.json`, a), file(`${name}-b.json`, b)],
        {},
      );
      assert.equal(run.code, 2);
      assert.equal(run.stdout, '');
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0]!, message);
    });
  }

  it('exits 2 for a missing file and a bad option', async () => {
    const ok = file('ok.json', '[[1,2],[3,4]]');
    const missing = await runCliCaptured(['distance', ok, join(dir, 'absent.json')], {});
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: Cannot read .*absent\.json: no such file\.\n$/);
    const badOpt = await runCliCaptured(['distance', ok, ok, '--subsets', '0'], {});
    assert.equal(badOpt.code, 2);
    assert.match(badOpt.stderr, /--subsets must be a whole number from 1 to 10000, not "0"\./);
  });
});
