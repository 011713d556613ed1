/**
 * Child process for tests/training/tag-limits.test.ts: analyses one generated hostile header and prints
 * the findings' rules and details as one JSON line. The tests run it with a hard timeout, which a
 * synchronous call in the test process itself could not have.
 */
import { analyzeTrainingTags } from '../../src/analysis/training/tag-analysis.ts';

/** One caption-like "tag" of `chars` characters with spaces (words w0x w1x … w999x). */
export function longTag(chars: number): string {
  const words: string[] = [];
  let length = 0;
  for (let i = 0; length < chars; i++) {
    const word = `w${i % 1000}x`;
    words.push(word);
    length += word.length + 1;
  }
  return words.join(' ').slice(0, chars);
}

if (process.argv[1]?.endsWith('long-header.child.ts')) {
  const chars = Number(process.argv[2] ?? '1000');
  const metadata = {
    ss_tag_frequency: JSON.stringify({
      '10_x': { [longTag(chars)]: 3, [`${longTag(chars)}!`]: 1, x: 10, solo: 10 },
    }),
  };
  const report = analyzeTrainingTags({
    metadata,
    trainedWordsByVersion: [{ versionId: 1, versionName: 'v1', trainedWords: ['x'] }],
  });
  process.stdout.write(
    `${JSON.stringify({ status: report.status, findings: report.findings.map((f) => ({ rule: f.rule, tags: f.evidence.tags, detail: f.evidence.detail })), distinctTags: report.datasets[0]?.distinctTags })}\n`,
  );
}
