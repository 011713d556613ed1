import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { runScanText } from '../../src/cli/scan-text.ts';

async function run(input: string): Promise<{ out: unknown[]; result: { lines: number; errors: number } }> {
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on('data', (c: Buffer) => chunks.push(c));
  const result = await runScanText(Readable.from([input]), output);
  output.end();
  const text = Buffer.concat(chunks).toString('utf8');
  assert.ok(text.endsWith('\n') || text.length === 0, 'every output line ends with a newline');
  const out = text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as unknown);
  return { out, result };
}

describe('runScanText (loralens scan-text)', () => {
  it('writes one result line per input line with the exact field set', async () => {
    const text = 'Nice style, but the trigger word is wrong: it only works with k4t.';
    const { out, result } = await run(
      `${JSON.stringify({ id: 'c1', text })}\n${JSON.stringify({ id: 2, text: 'Looks great, 5 stars.' })}\n`,
    );
    assert.deepEqual(result, { lines: 2, errors: 0 });
    const [first, second] = out as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(first ?? {}), ['id', 'flag', 'score', 'lang', 'evidence']);
    assert.equal(first?.id, 'c1');
    assert.equal(first?.flag, true);
    assert.equal(first?.lang, 'en');
    const evidence = first?.evidence as Array<{ span: string; start: number; end: number }>;
    assert.equal(evidence.length, 1);
    assert.deepEqual(Object.keys(evidence[0] ?? {}), ['span', 'start', 'end']);
    assert.equal(text.slice(evidence[0]?.start, evidence[0]?.end), evidence[0]?.span);
    // The evidence is the sentence that carried the decision.
    assert.equal(evidence[0]?.span, text);
    assert.deepEqual(Object.keys(second ?? {}), ['id', 'flag', 'score', 'lang', 'evidence']);
    assert.deepEqual([second?.id, second?.flag, second?.lang, second?.evidence], [2, false, 'en', []]);
    assert.ok((second?.score as number) < 0.1);
  });

  it('reports a malformed line with its id and goes on with the rest', async () => {
    const lines = [
      '{"id": "a", "text": "タグミスがあるみたいです。"}',
      '{"id": "b", "text": ',
      '{"id": "c"}',
      '[1, 2]',
      '{"text": "no id here"}',
      '{"id": {"x": 1}, "text": "bad id"}',
      '',
      '{"id": "d", "text": "标签错了"}',
    ];
    const { out, result } = await run(lines.join('\r\n'));
    assert.deepEqual(result, { lines: 7, errors: 5 });
    assert.deepEqual(
      out.map((o) => {
        const r = o as { id: unknown; error?: string; flag?: boolean };
        return [r.id, r.error ?? r.flag];
      }),
      [
        ['a', true],
        [null, 'Line 2 is not valid JSON.'],
        ['c', 'Line 3 has no "text" string.'],
        [null, 'Line 4 is not a JSON object.'],
        [null, 'Line 5 has no "id" (a string or a number).'],
        [null, 'Line 6 has no "id" (a string or a number).'],
        ['d', true],
      ],
    );
  });

  it('handles empty input and a byte-order mark', async () => {
    assert.deepEqual((await run('')).result, { lines: 0, errors: 0 });
    const { out } = await run('\uFEFF{"id": "x", "text": "ok"}\n');
    assert.equal((out[0] as { id: string }).id, 'x');
  });

  it('keeps going through many lines and waits for a slow reader', async () => {
    const input = Array.from({ length: 2000 }, (_, i) =>
      JSON.stringify({ id: i, text: `mislabeled ${i}` }),
    ).join('\n');
    const output = new PassThrough({ highWaterMark: 64 });
    let count = 0;
    output.on('data', (c: Buffer) => {
      count += c.toString('utf8').split('\n').length - 1;
    });
    const result = await runScanText(Readable.from([input]), output);
    output.end();
    assert.deepEqual(result, { lines: 2000, errors: 0 });
    assert.equal(count, 2000);
  });
});
