import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  analyzeTrainingTags,
  TRAINING_LIMITS,
  TRAINING_THRESHOLDS,
  TrainingRule,
  TrainingTagReport,
} from '../../src/analysis/training/tag-analysis.ts';

const CHILD = fileURLToPath(new URL('./long-header.child.ts', import.meta.url));
const byRule = (r: TrainingTagReport, rule: string) => r.findings.filter((f) => f.rule === rule);
const header = (tags: Record<string, number>, folder = '10_x') => ({
  ss_tag_frequency: JSON.stringify({ [folder]: tags }),
});

describe('training analysis of hostile headers', () => {
  it('analyses a 200 000-character tag with spaces well inside a hard 60 s limit, as a caption', () => {
    // Before: the one-edit buckets built O(L²) key characters (16 384 characters: killed at 240 s,
    // 404 MB). Now it takes well under a second; the kill is a backstop only.
    const run = spawnSync(process.execPath, ['--import', 'tsx', CHILD, '200000'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.signal, null, 'the analysis was killed at the 60 s limit');
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as {
      status: string;
      distinctTags: number;
      findings: Array<{
        rule: string;
        tags: Array<{ tag: string; count: number }>;
        detail: Record<string, unknown>;
      }>;
    };
    assert.equal(out.status, 'ok');
    assert.equal(out.distinctTags, 2, 'the captions are not counted as tags');
    const captions = out.findings.filter((f) => f.rule === TrainingRule.CAPTION_AS_TAG);
    assert.equal(captions.length, 1);
    assert.equal(captions[0]?.detail.captionEntries, 2);
    assert.equal(captions[0]?.detail.captionOccurrences, 4);
    assert.equal(captions[0]?.detail.longestChars, 200_001);
    const example = captions[0]?.tags[0];
    assert.equal(example?.count, 3);
    assert.equal(example?.tag.length, TRAINING_THRESHOLDS.captionExampleChars);
    assert.ok(example?.tag.startsWith('w0x w1x w2x') && example.tag.endsWith('…'), example?.tag);
  });

  it('reports sentence captions as captions and keeps them out of the tag checks', () => {
    const sentence = `a photo of a woman with long blonde hair standing in a field of flowers at sunset, ${'detailed '.repeat(3)}`;
    assert.ok(sentence.length > TRAINING_LIMITS.maxTagLength);
    const r = analyzeTrainingTags({
      metadata: header({ x: 25, solo: 25, [sentence]: 1, smile: 1 }),
      trainedWordsByVersion: [{ versionId: 1, versionName: 'v1', trainedWords: ['x'] }],
    });
    const [caption] = byRule(r, TrainingRule.CAPTION_AS_TAG);
    assert.equal(caption?.severity, 'info');
    assert.equal(caption?.folder, '10_x');
    assert.equal(caption?.evidence.detail.captionEntries, 1);
    assert.deepEqual(byRule(r, TrainingRule.RARE_TAGS)[0]?.evidence.tags, [{ tag: 'smile', count: 1 }]);
    assert.equal(r.datasets[0]?.distinctTags, 3);
    assert.equal(r.flag, false);
  });

  it('keeps a header of captions only as analysed, with the caption note', () => {
    const r = analyzeTrainingTags({
      metadata: header({ ['a long natural-language caption '.repeat(5)]: 4 }),
      trainedWordsByVersion: [],
    });
    assert.equal(r.status, 'ok');
    assert.equal(byRule(r, TrainingRule.CAPTION_AS_TAG).length, 1);
  });

  it('analyses 150 000 distinct tags without throwing: the 20 000 most frequent, truncation reported', () => {
    // Before: Math.max(...150 000 counts) overflowed the stack (RangeError) when the image count had
    // to be estimated, and every later step grew with the tag count.
    const tags: Record<string, number> = {};
    for (let i = 0; i < 150_000; i++) tags[`tag${i}`] = i < 100 ? 50 : 1 + (i % 3);
    const r = analyzeTrainingTags({ metadata: header(tags), trainedWordsByVersion: [] });
    assert.equal(r.status, 'ok');
    assert.equal(r.imageCount, 50);
    assert.equal(r.datasets[0]?.distinctTags, TRAINING_LIMITS.maxTags);
    const [truncated] = byRule(r, TrainingRule.TRUNCATED);
    assert.deepEqual(truncated?.evidence.detail, {
      foldersSeen: 1,
      foldersAnalysed: 1,
      tagsSeen: 150_000,
      tagsAnalysed: TRAINING_LIMITS.maxTags,
      maxFolders: TRAINING_LIMITS.maxFolders,
      maxTags: TRAINING_LIMITS.maxTags,
    });
    assert.equal(r.topTags[0]?.count, 50, 'the most frequent tags are the ones kept');
  });

  it('analyses at most maxFolders folders, the first ones in the header', () => {
    const freq: Record<string, Record<string, number>> = {};
    for (let i = 0; i < 150; i++) freq[`1_f${i}`] = { x: 2, solo: 2 };
    const r = analyzeTrainingTags({
      metadata: { ss_tag_frequency: JSON.stringify(freq) },
      trainedWordsByVersion: [],
    });
    assert.equal(r.datasets.length, TRAINING_LIMITS.maxFolders);
    assert.equal(r.datasets[0]?.name, '1_f0');
    assert.equal(byRule(r, TrainingRule.TRUNCATED)[0]?.evidence.detail.foldersSeen, 150);
  });

  it('reads at most maxTriggerWords trained words per version and lists few other-version findings', () => {
    const many = Array.from({ length: 500 }, (_, i) => `word${i}`);
    const r = analyzeTrainingTags({
      metadata: header(Object.fromEntries(many.map((w) => [w, 5]))),
      trainedWordsByVersion: [
        { versionId: 2, versionName: 'v2', trainedWords: many.map((w) => `${w}new`) },
        { versionId: 1, versionName: 'v1', trainedWords: many },
      ],
    });
    assert.equal(r.triggerWords.length, TRAINING_THRESHOLDS.maxTriggerWords);
    assert.equal(byRule(r, TrainingRule.TRIGGER_MISSING).length, TRAINING_THRESHOLDS.maxTriggerWords);
    assert.equal(
      byRule(r, TrainingRule.TRIGGER_OTHER_VERSION).length,
      TRAINING_THRESHOLDS.maxOtherVersionFindings,
    );
  });
});

describe('absurd counts in a header', () => {
  it('ignores counts above a billion so sums stay finite and the report keeps its schema', () => {
    // Found by the fuzzer: two counts near Number.MAX_VALUE summed to Infinity.
    const r = analyzeTrainingTags({
      metadata: {
        ss_tag_frequency: JSON.stringify({
          '0_soraka': { '1girl': 2.6943844178718717e293, solo: 3 },
          '': { '1girl': 1.7976931348623131e308 },
        }),
      },
      trainedWordsByVersion: [],
    });
    assert.ok(TrainingTagReport.safeParse(r).success);
    assert.ok(JSON.stringify(r).indexOf('Infinity') < 0);
  });
});
