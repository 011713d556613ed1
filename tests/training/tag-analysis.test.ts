import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  analyzeTrainingTags,
  TRAINING_THRESHOLDS,
  TrainingRule,
  type TrainingTagReport,
  trainingReportColumns,
} from '../../src/analysis/training/tag-analysis.ts';
import { needsShared, sharedPath } from '../support/requirements.ts';

const SORAKA_PATH = 'fixtures/safetensors/soraka-classic-kohya-lora-metadata.json';
const soraka = (): Record<string, string> => JSON.parse(readFileSync(sharedPath(SORAKA_PATH), 'utf8'));
const legacyFixture = (): Record<string, string> =>
  JSON.parse(readFileSync(new URL('./fixtures/legacy-two-folders.json', import.meta.url), 'utf8'));

/** A minimal kohya legacy-path header: ss_tag_frequency + ss_dataset_dirs as JSON strings. */
function header(
  folders: Record<string, { repeats?: number; images?: number; tags: Record<string, number> }>,
) {
  const freq: Record<string, Record<string, number>> = {};
  const dirs: Record<string, { n_repeats: number; img_count: number }> = {};
  for (const [name, f] of Object.entries(folders)) {
    freq[name] = f.tags;
    if (f.images !== undefined) dirs[name] = { n_repeats: f.repeats ?? 1, img_count: f.images };
  }
  return {
    ss_network_module: 'networks.lora',
    ss_tag_frequency: JSON.stringify(freq),
    ss_dataset_dirs: JSON.stringify(dirs),
  };
}

const words = (...list: string[]) => [{ versionId: 1, versionName: 'v1', trainedWords: list }];
const rules = (r: TrainingTagReport) => r.findings.map((f) => f.rule);
const byRule = (r: TrainingTagReport, rule: string) => r.findings.filter((f) => f.rule === rule);

describe('analyzeTrainingTags: the real Soraka header (shared fixture)', needsShared(), () => {
  // Provenance: shared/fixtures/safetensors/PROVENANCE.md — soraka_classic 38 of 46, 1girl 46, 278 tags,
  // ss_dataset_dirs {"Soraka_Classic": {"n_repeats": 10, "img_count": 46}}, ss_num_train_images 460.
  const report = analyzeTrainingTags({
    metadata: soraka(),
    trainedWordsByVersion: [{ versionId: 50, versionName: 'Soraka V1', trainedWords: ['soraka_classic,,'] }],
    targetVersionId: 50,
  });

  it('reads folders, repeats and image counts', () => {
    assert.equal(report.status, 'ok');
    assert.equal(report.imageCount, 46);
    assert.equal(report.numTrainImages, 460);
    assert.deepEqual(
      report.datasets.map((d) => [
        d.name,
        d.repeats,
        d.imageCount,
        d.imageCountSource,
        d.distinctTags,
        d.exposure,
      ]),
      [['Soraka_Classic', 10, 46, 'ss_dataset_dirs', 278, 460]],
    );
    assert.deepEqual(report.triggerWords, ['soraka classic']);
  });

  it('lists top tags with share and repeat-weighted exposure', () => {
    assert.deepEqual(report.topTags.slice(0, 4), [
      { tag: '1girl', count: 46, share: 1, exposure: 460 },
      { tag: 'solo', count: 43, share: 0.935, exposure: 430 },
      { tag: 'breasts', count: 42, share: 0.913, exposure: 420 },
      { tag: 'soraka classic', count: 38, share: 0.826, exposure: 380 },
    ]);
  });

  it('reports trigger drift: soraka_classic on 38 of 46 captions', () => {
    const [drift, ...rest] = byRule(report, TrainingRule.TRIGGER_DRIFT);
    assert.equal(rest.length, 0);
    assert.equal(drift?.severity, 'warning');
    assert.deepEqual(drift?.evidence.tags, [{ tag: 'soraka_classic', count: 38 }]);
    assert.equal(drift?.evidence.imageCount, 46);
    assert.equal(drift?.evidence.detail.captionsWithout, 8);
    assert.equal(drift?.evidence.detail.keepTokens, 1);
  });

  it('reports the off-concept character tags and the single-image tags', () => {
    const foreign = byRule(report, TrainingRule.FOREIGN_CHARACTER)[0];
    assert.deepEqual(
      foreign?.evidence.tags.map((t) => t.tag),
      ['boko_\\(girls_und_panzer\\)', 'kaine_\\(nier\\)'],
    );
    const rare = byRule(report, TrainingRule.RARE_TAGS)[0];
    assert.equal(rare?.severity, 'info');
    assert.equal(rare?.evidence.detail.rareTagCount, 144);
    assert.equal(rare?.evidence.tags.length, 40);
    assert.deepEqual(rare?.evidence.tags.slice(0, 3), [
      { tag: ':<', count: 1 },
      { tag: '?', count: 1 },
      { tag: 'animal', count: 1 },
    ]);
  });

  it('reports 1girl as present on every image and flags the model', () => {
    const always = byRule(report, TrainingRule.ALWAYS_PRESENT)[0];
    assert.deepEqual(always?.evidence.tags, [{ tag: '1girl', count: 46 }]);
    assert.equal(report.flag, true);
    assert.equal(report.conflictCount, 2);
    assert.match(
      report.summary,
      /^46 images in 1 folder, 278 tags; 2 tag conflicts: Trigger "soraka classic"/,
    );
    assert.deepEqual(trainingReportColumns(report), { tag_error_training: true, training_conflicts: 2 });
  });

  it('finds no gender, exclusivity or colour conflict in this single-character set', () => {
    for (const rule of [
      TrainingRule.GENDER_CONFLICT,
      TrainingRule.EXCLUSIVE_CONFLICT,
      TrainingRule.HAIR_COLOR_CONFLICT,
      TrainingRule.EYE_COLOR_CONFLICT,
      TrainingRule.NEAR_DUPLICATE,
    ]) {
      assert.equal(byRule(report, rule).length, 0, rule);
    }
  });

  it('reports a missing trigger with the caption tag that nearly matches it', () => {
    const r = analyzeTrainingTags({ metadata: soraka(), trainedWordsByVersion: words('soraka') });
    const missing = byRule(r, TrainingRule.TRIGGER_MISSING)[0];
    assert.equal(missing?.severity, 'error');
    assert.equal(missing?.evidence.detail.nearMatches, 'soraka classic');
  });
});

describe('analyzeTrainingTags: missing or malformed headers', () => {
  const cases: Array<[string, unknown]> = [
    ['null metadata', null],
    ['empty map', {}],
    ['kohya keys without tag frequency', { ss_network_module: 'networks.lora', ss_network_dim: '16' }],
    ['tag frequency that is not JSON', { ss_tag_frequency: '{"a": ' }],
    ['tag frequency of the wrong shape', { ss_tag_frequency: '[1,2,3]' }],
    ['tag frequency without tags', { ss_tag_frequency: '{"10_x": {}}' }],
    ['not an object at all', 'hello'],
  ];
  for (const [name, metadata] of cases) {
    it(`returns no-training-metadata for ${name}`, () => {
      const r = analyzeTrainingTags({
        metadata: metadata as Record<string, string>,
        trainedWordsByVersion: words('x'),
      });
      assert.equal(r.status, 'no-training-metadata');
      assert.equal(r.flag, false);
      assert.equal(r.conflictCount, 0);
      assert.ok((r.reason ?? '').length > 10);
      assert.deepEqual(r.findings, []);
    });
  }

  it('does not throw on a garbage input object', () => {
    const r = analyzeTrainingTags(42 as unknown as Parameters<typeof analyzeTrainingTags>[0]);
    assert.equal(r.status, 'no-training-metadata');
  });
});

describe('analyzeTrainingTags: dataset parsing', () => {
  it('reads repeats from the folder prefix and estimates images when ss_dataset_dirs is absent', () => {
    const r = analyzeTrainingTags({
      metadata: { ss_tag_frequency: JSON.stringify({ '5_mychar': { mychar: 12, '1girl': 12, smile: 3 } }) },
      trainedWordsByVersion: [],
    });
    assert.deepEqual(
      r.datasets.map((d) => [d.repeats, d.imageCount, d.imageCountSource]),
      [[5, 12, 'estimated']],
    );
    assert.equal(r.topTags[0]?.exposure, 60);
  });

  it('uses the legacy two-folder fixture with per-folder repeats', () => {
    const r = analyzeTrainingTags({
      metadata: legacyFixture(),
      trainedWordsByVersion: words('akane, akane_casual'),
    });
    assert.deepEqual(
      r.datasets.map((d) => [d.name, d.repeats, d.imageCount]),
      [
        ['10_akane', 10, 20],
        ['4_akane_casual', 4, 30],
      ],
    );
    assert.equal(r.imageCount, 50);
    const smile = r.topTags.find((t) => t.tag === 'smile');
    // 8 captions × 10 repeats + 12 captions × 4 repeats.
    assert.deepEqual(smile, { tag: 'smile', count: 20, share: 0.4, exposure: 128 });
    assert.equal(r.flag, false, JSON.stringify(r.findings));
  });

  it('falls back to ss_datasets tag_frequency and subsets', () => {
    const metadata = {
      ss_datasets: JSON.stringify([
        {
          tag_frequency: { img: { hero: 10, solo: 10 } },
          subsets: [{ image_dir: '/data/train/img', img_count: 10, num_repeats: 3, keep_tokens: 1 }],
        },
      ]),
    };
    const r = analyzeTrainingTags({ metadata, trainedWordsByVersion: words('hero') });
    assert.deepEqual(
      r.datasets.map((d) => [d.name, d.repeats, d.imageCount, d.imageCountSource]),
      [['img', 3, 10, 'ss_datasets']],
    );
  });
});

describe('analyzeTrainingTags: contradictions', () => {
  it('flags 1girl and 1boy at similar frequency', () => {
    const r = analyzeTrainingTags({
      metadata: header({ '10_x': { images: 40, tags: { x: 40, '1girl': 22, '1boy': 18 } } }),
      trainedWordsByVersion: words('x'),
    });
    const f = byRule(r, TrainingRule.GENDER_CONFLICT)[0];
    assert.equal(f?.severity, 'warning');
    assert.deepEqual(f?.evidence.tags, [
      { tag: '1girl', count: 22 },
      { tag: '1boy', count: 18 },
    ]);
    assert.equal(r.flag, true);
  });

  it('does not flag a few 1boy captions in a 1girl set', () => {
    const r = analyzeTrainingTags({
      metadata: header({ '10_x': { images: 40, tags: { x: 40, '1girl': 38, '1boy': 3 } } }),
      trainedWordsByVersion: words('x'),
    });
    assert.ok(!rules(r).includes(TrainingRule.GENDER_CONFLICT));
  });

  it('proves solo and multiple girls share captions when their counts exceed the images', () => {
    const r = analyzeTrainingTags({
      metadata: header({ '10_x': { images: 20, tags: { x: 20, solo: 18, multiple_girls: 5, '2girls': 5 } } }),
      trainedWordsByVersion: words('x'),
    });
    const f = byRule(r, TrainingRule.EXCLUSIVE_CONFLICT)[0];
    assert.equal(f?.severity, 'error');
    assert.equal(f?.evidence.detail.minCaptionsWithBoth, 3);
  });

  it('does not claim overlap when solo + group shots fit in the image count', () => {
    const r = analyzeTrainingTags({
      metadata: header({ '10_x': { images: 20, tags: { x: 20, solo: 15, multiple_girls: 5 } } }),
      trainedWordsByVersion: words('x'),
    });
    assert.ok(!rules(r).includes(TrainingRule.EXCLUSIVE_CONFLICT));
  });

  it('flags several hair colours and eye colours in a single-character set', () => {
    const r = analyzeTrainingTags({
      metadata: header({
        '10_x': {
          images: 30,
          tags: { x: 30, solo: 30, '1girl': 30, blonde_hair: 14, brown_hair: 12, blue_eyes: 20, red_eyes: 9 },
        },
      }),
      trainedWordsByVersion: words('x'),
    });
    const hair = byRule(r, TrainingRule.HAIR_COLOR_CONFLICT)[0];
    assert.equal(hair?.severity, 'warning');
    assert.deepEqual(
      hair?.evidence.tags.map((t) => [t.tag, t.count]),
      [
        ['blonde hair', 14],
        ['brown hair', 12],
      ],
    );
    assert.equal(byRule(r, TrainingRule.EYE_COLOR_CONFLICT)[0]?.severity, 'warning');
  });

  it('treats white/silver/grey hair as one colour and respects multicolored hair', () => {
    const silver = analyzeTrainingTags({
      metadata: header({ '1_x': { images: 20, tags: { x: 20, solo: 20, white_hair: 10, silver_hair: 8 } } }),
      trainedWordsByVersion: words('x'),
    });
    assert.ok(!rules(silver).includes(TrainingRule.HAIR_COLOR_CONFLICT));
    const two = analyzeTrainingTags({
      metadata: header({
        '1_x': { images: 20, tags: { x: 20, solo: 20, black_hair: 20, red_hair: 20, multicolored_hair: 20 } },
      }),
      trainedWordsByVersion: words('x'),
    });
    assert.equal(byRule(two, TrainingRule.HAIR_COLOR_CONFLICT)[0]?.severity, 'info');
  });

  it('does not check colours in a multi-character (group) set', () => {
    const r = analyzeTrainingTags({
      metadata: header({
        '1_x': { images: 20, tags: { x: 20, multiple_girls: 18, blonde_hair: 10, black_hair: 10 } },
      }),
      trainedWordsByVersion: words('x'),
    });
    assert.ok(!rules(r).includes(TrainingRule.HAIR_COLOR_CONFLICT));
  });
});

describe('analyzeTrainingTags: trigger words', () => {
  const base = header({ '10_hero': { images: 40, tags: { 'hero_\\(armor\\)': 1, hero: 40, solo: 40 } } });

  it('normalises creator-typed trained words (commas, escapes, underscores, case)', () => {
    const r = analyzeTrainingTags({
      metadata: header({ '1_x': { images: 10, tags: { 'toon_\\(style\\)': 10, flat_color: 10 } } }),
      trainedWordsByVersion: words('Toon \\(style\\), flat color,,', ' ', 'FLAT_COLOR'),
    });
    assert.deepEqual(r.triggerWords, ['toon (style)', 'flat color']);
    assert.ok(!rules(r).some((x) => x.startsWith('training.trigger')));
  });

  it('is quiet when the trigger is on every caption', () => {
    const r = analyzeTrainingTags({ metadata: base, trainedWordsByVersion: words('hero') });
    assert.ok(!rules(r).some((x) => x.startsWith('training.trigger')));
  });

  it('grades drift by share: error below 50 %, warning below 95 %, quiet with one caption missing', () => {
    const at = (count: number, images: number) =>
      byRule(
        analyzeTrainingTags({
          metadata: header({ '1_x': { images, tags: { trig: count, solo: images } } }),
          trainedWordsByVersion: words('trig'),
        }),
        TrainingRule.TRIGGER_DRIFT,
      )[0]?.severity;
    assert.equal(at(10, 40), 'error');
    assert.equal(at(30, 40), 'warning');
    assert.equal(at(39, 40), undefined);
    assert.equal(TRAINING_THRESHOLDS.triggerDriftError, 0.5);
  });

  it('uses the folder where a multi-concept trigger lives', () => {
    const r = analyzeTrainingTags({
      metadata: header({
        '10_a': { images: 20, tags: { char_a: 20, solo: 20 } },
        '10_b': { images: 20, tags: { char_b: 20, solo: 20 } },
      }),
      trainedWordsByVersion: words('char_a, char_b'),
    });
    assert.ok(!rules(r).includes(TrainingRule.TRIGGER_DRIFT));
  });

  it('accepts a trigger that only comes from the folder name (DreamBooth class token)', () => {
    const r = analyzeTrainingTags({
      metadata: header({ '10_sks': { images: 12, tags: { '1girl': 12, smile: 5 } } }),
      trainedWordsByVersion: words('sks'),
    });
    assert.deepEqual(
      rules(r).filter((x) => x.startsWith('training.trigger')),
      [TrainingRule.TRIGGER_FROM_CLASS_TOKEN],
    );
  });

  it('reports trained words that changed between versions and captions that use the old trigger', () => {
    const r = analyzeTrainingTags({
      metadata: header({ '10_x': { images: 30, tags: { old_trigger: 30, solo: 30 } } }),
      trainedWordsByVersion: [
        { versionId: 20, versionName: 'v2', trainedWords: ['new_trigger'] },
        { versionId: 10, versionName: 'v1', trainedWords: ['old_trigger'] },
      ],
      targetVersionId: 20,
    });
    const changed = byRule(r, TrainingRule.TRIGGER_VERSION_CHANGED)[0];
    assert.equal(changed?.evidence.detail.added, 'new trigger');
    assert.equal(changed?.evidence.detail.removed, 'old trigger');
    assert.equal(byRule(r, TrainingRule.TRIGGER_MISSING)[0]?.severity, 'error');
    const other = byRule(r, TrainingRule.TRIGGER_OTHER_VERSION)[0];
    assert.deepEqual(other?.evidence.tags, [
      { tag: 'old trigger', count: 30 },
      { tag: 'new trigger', count: 0 },
    ]);
  });

  it('defaults the target to the highest version id', () => {
    const r = analyzeTrainingTags({
      metadata: base,
      trainedWordsByVersion: [
        { versionId: 7, versionName: 'v1', trainedWords: ['villain'] },
        { versionId: 9, versionName: 'v2', trainedWords: ['hero'] },
      ],
    });
    assert.equal(r.targetVersionId, 9);
    assert.ok(!rules(r).includes(TrainingRule.TRIGGER_MISSING));
  });
});

describe('analyzeTrainingTags: tag hygiene', () => {
  it('flags underscore/space and blonde/blond spellings of one tag', () => {
    const r = analyzeTrainingTags({
      metadata: header({
        '1_x': { images: 20, tags: { x: 20, long_hair: 12, 'long hair': 6, blonde_hair: 9, blond_hair: 4 } },
      }),
      trainedWordsByVersion: words('x'),
    });
    const dups = byRule(r, TrainingRule.NEAR_DUPLICATE);
    assert.deepEqual(
      dups.map((d) => d.evidence.tags.map((t) => t.tag)),
      [
        ['long_hair', 'long hair'],
        ['blonde_hair', 'blond_hair'],
      ],
    );
    assert.ok(dups.every((d) => d.severity === 'warning'));
  });

  it('lists one-edit typos as info but not tags that differ only in a digit', () => {
    const r = analyzeTrainingTags({
      metadata: header({
        '1_x': { images: 20, tags: { x: 20, ponytail: 10, ponytial: 1, '2girls': 2, '3girls': 1 } },
      }),
      trainedWordsByVersion: words('x'),
    });
    const similar = byRule(r, TrainingRule.SIMILAR_TAGS)[0];
    assert.equal(similar?.severity, 'info');
    assert.deepEqual(
      similar?.evidence.tags.map((t) => t.tag),
      ['ponytail', 'ponytial'],
    );
  });

  it('flags tags counted more often than there are images', () => {
    const r = analyzeTrainingTags({
      metadata: header({ '1_x': { images: 10, tags: { x: 10, smile: 13 } } }),
      trainedWordsByVersion: words('x'),
    });
    assert.deepEqual(byRule(r, TrainingRule.DUPLICATE_IN_CAPTION)[0]?.evidence.tags, [
      { tag: 'smile', count: 13 },
    ]);
  });

  it('reports rare tags only for large sets and always-present tags except the trigger', () => {
    const small = analyzeTrainingTags({
      metadata: header({ '1_x': { images: 8, tags: { x: 8, smile: 1 } } }),
      trainedWordsByVersion: words('x'),
    });
    assert.ok(!rules(small).includes(TrainingRule.RARE_TAGS));
    assert.ok(!rules(small).includes(TrainingRule.ALWAYS_PRESENT));
    const large = analyzeTrainingTags({
      metadata: header({ '1_x': { images: 25, tags: { x: 25, red_scarf: 25, smile: 1, hat: 3 } } }),
      trainedWordsByVersion: words('x'),
    });
    assert.deepEqual(byRule(large, TrainingRule.RARE_TAGS)[0]?.evidence.tags, [{ tag: 'smile', count: 1 }]);
    assert.deepEqual(byRule(large, TrainingRule.ALWAYS_PRESENT)[0]?.evidence.tags, [
      { tag: 'red_scarf', count: 25 },
    ]);
    assert.equal(large.flag, false);
  });

  it('does not report a qualified tag of the concept itself as foreign', () => {
    const r = analyzeTrainingTags({
      metadata: header({
        '1_x': { images: 30, tags: { 'soraka_\\(league_of_legends\\)': 1, soraka: 30, 'star_\\(sky\\)': 1 } },
      }),
      trainedWordsByVersion: words('soraka'),
    });
    assert.ok(!rules(r).includes(TrainingRule.FOREIGN_CHARACTER));
  });
});
