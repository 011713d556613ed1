import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  extractFeatures,
  gramKey,
  gramName,
  splitSentences,
} from '../../src/analysis/text/detector/features.ts';
import { frameHits } from '../../src/analysis/text/detector/frames.ts';
import { defaultDetectorModel } from '../../src/analysis/text/detector/model.ts';
import { describeFeature } from '../../src/analysis/text/detector/scan.ts';
import { detectLanguage } from '../../src/analysis/text/language.ts';
import { normalizeForMatching, originalRange } from '../../src/analysis/text/normalize.ts';
import {
  CHUNK_CHARS,
  chunkBounds,
  SOURCE_WEIGHTS,
  scanSources,
  scanText,
  scanTextAsync,
  type TextSource,
  textReportColumns,
  versionKey,
} from '../../src/analysis/text/tag-error-reports.ts';

/**
 * Reports that describe the error rather than name it, one per language, and hard negatives of
 * the kinds the detector must not flag. These are development texts (the model was trained on the
 * development corpora, so they check the pipeline end to end); accuracy on unseen texts is measured
 * on the frozen blind set by `npm run bench text-blind`.
 */
const REPORTS: Array<[string, string]> = [
  [
    'en',
    'The trigger listed on the page does nothing for me, it only kicks in if I write it as "mika_v2" with the underscore.',
  ],
  ['en', 'Half the dataset is mislabeled, 1girl gives me a guy.'],
  ['zh', '触发词写的是 sakura，但完全没反应，要写成 sakura_v2 才出人物。'],
  ['ja', 'ページのトリガーワードだと全然効かない。メタデータ見たら別の綴りで学習されてた。'],
  ['ko', '트리거 워드 넣어도 반응이 없어요. 메타데이터 보니까 다른 철자로 태그되어 있네요.'],
  [
    'es',
    'La palabra de activación de la página no funciona, en los metadatos aparece escrita de otra forma.',
  ],
  ['ru', 'Триггер со страницы не работает, в метаданных он написан по-другому.'],
  [
    'de',
    'Das Triggerwort auf der Seite funktioniert nicht, in den Metadaten steht eine andere Schreibweise.',
  ],
  ['fr', 'Le mot déclencheur indiqué ne fonctionne pas, dans les métadonnées il est écrit autrement.'],
];
const NON_REPORTS: Array<[string, string]> = [
  ['en', 'Amazing style, thanks for sharing! Works great at 0.8 weight.'],
  ['zh', '画风很好看，感谢分享！权重0.8效果最好。'],
  ['ja', '素晴らしいLoRAです、ありがとうございます！'],
  ['de', 'Tolles Modell, vielen Dank!'],
];

describe('scanText: the detector model', () => {
  for (const [lang, text] of REPORTS) {
    it(`${lang}: flags a described report "${text.slice(0, 40)}…"`, () => {
      const scan = scanText(text);
      assert.equal(scan.flag, true, `score ${scan.score}`);
      assert.equal(scan.lang, lang);
      assert.equal(scan.evidence.length, 1);
      assert.match(scan.evidence[0]!.rule, /^model:/);
    });
  }
  for (const [lang, text] of NON_REPORTS) {
    it(`${lang}: does not flag "${text.slice(0, 40)}"`, () => {
      const scan = scanText(text);
      assert.equal(scan.flag, false, `score ${scan.score}`);
    });
  }

  it('honours a custom threshold and minEvidenceScore', () => {
    const text = REPORTS[0]![1];
    const { score } = scanText(text);
    if (score + 0.01 <= 1) assert.equal(scanText(text, { threshold: score + 0.01 }).flag, false);
    assert.equal(scanText(text, { threshold: score }).flag, true);
    assert.equal(scanText(text, { minEvidenceScore: 1 }).evidence.length, score >= 1 ? 1 : 0);
  });

  it('returns an unflagged empty scan for empty or non-string input', () => {
    assert.deepEqual(scanText(''), { flag: false, score: 0, lang: 'und', evidence: [] });
    assert.deepEqual(scanText(null as unknown as string), {
      flag: false,
      score: 0,
      lang: 'und',
      evidence: [],
    });
  });

  it('explains a flag by its sentence and the features that fired there', () => {
    const text = 'Lovely colours. But the trigger word does not work at all, only "mika_v2" does.';
    const ev = scanText(text).evidence[0];
    assert.ok(ev);
    assert.match(ev.span, /trigger word does not work/);
    assert.equal(text.slice(ev.start, ev.end), ev.span);
    assert.equal(describeFeature('s:entity+malfunction'), 'tag/trigger + malfunction');
    assert.equal(describeFeature('c:标签'), '"标签"');
  });

  it('keeps every evidence span equal to its original slice (property)', () => {
    const piece = fc.constantFrom(
      'mislabeled',
      ' tags are wrong',
      '标籤錯誤',
      'タグミス',
      '&amp;',
      '<br>',
      'Ｗｒｏｎｇ ｔａｇ',
      '😀',
      ' ',
      'İ',
      'ß',
      '\n',
      'the trigger does not work. ',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(piece, fc.string({ maxLength: 5 })), { maxLength: 20 }), (parts) => {
        const text = parts.join('');
        const scan = scanText(text);
        assert.ok(scan.score >= 0 && scan.score <= 1);
        for (const ev of scan.evidence) {
          assert.ok(ev.start >= 0 && ev.start <= ev.end && ev.end <= text.length);
          assert.equal(text.slice(ev.start, ev.end), ev.span);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('detector features', () => {
  it('names every n-gram so that training and inference use the same key (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60, unit: 'grapheme' }), (text) => {
        const f = extractFeatures(text);
        for (let i = 0; i < f.grams.keys.length; i++) {
          assert.equal(gramKey(gramName(f, i)), f.grams.keys[i]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('finds frames across languages, at word starts for Latin terms', () => {
    const kinds = (t: string) =>
      [...new Set(frameHits(normalizeForMatching(t).text).map((h) => h.kind))].sort();
    assert.deepEqual(kinds('the trigger does not work'), ['entity', 'malfunction', 'negation']);
    assert.ok(kinds('触发词没反应').includes('malfunction'));
    assert.ok(!kinds('attaching files').includes('entity'), '"tag" inside a word is not a tag');
  });

  it('splits sentences in one pass, "." only before space or end', () => {
    assert.deepEqual(
      splitSentences('v1.5 is fine. Is it? 好。').map((s) => s.question),
      [false, true, false],
    );
  });

  it('the committed model was trained on the current development corpora', () => {
    const model = defaultDetectorModel();
    const files = model.file.training.files as Record<string, string>;
    assert.ok(Object.keys(files).some((f) => f.includes('text-dev')));
    assert.ok(!Object.keys(files).some((f) => f.includes('text-blind')), 'never trained on the blind set');
    for (const [file, sha] of Object.entries(files)) {
      const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
      assert.equal(
        createHash('sha256').update(text).digest('hex'),
        sha,
        `${file} changed: retrain (scripts/train-text-detector.ts)`,
      );
    }
  });
});

describe('scanText: offsets into the original text', () => {
  it('maps through HTML tags and entities', () => {
    const html =
      '<p>Great LoRA &amp; nice style.</p><p>But the trigger&nbsp;word is wrong, it never works!</p>';
    const ev = scanText(html).evidence[0];
    assert.ok(ev);
    assert.equal(html.slice(ev.start, ev.end), ev.span);
    assert.match(ev.span, /trigger&nbsp;word/);
  });

  it('normalizeForMatching maps each normalised char to its source range', () => {
    const norm = normalizeForMatching('A&lt;Ｂ');
    assert.equal(norm.text, 'a<b');
    assert.deepEqual(originalRange(norm, 1, 2), { start: 1, end: 5 });
    assert.deepEqual(originalRange(norm, 2, 3), { start: 5, end: 6 });
  });
});

describe('detectLanguage', () => {
  const samples: Array<[string, string]> = [
    ['the trigger word is wrong and it does not work', 'en'],
    ['标签错了，出图经常变男的', 'zh'],
    ['タグミスがあるみたいです', 'ja'],
    ['태그가 잘못된 것 같아요', 'ko'],
    ['las etiquetas están mal y no funciona', 'es'],
    ['as tags estão erradas e não funciona', 'pt'],
    ['теги неправильные', 'ru'],
    ['die tags sind falsch und das ist nicht gut', 'de'],
    ['les tags sont faux et ça ne marche pas', 'fr'],
    ['!!', 'und'],
  ];
  for (const [text, lang] of samples) {
    it(`detects ${lang}: "${text}"`, () => assert.equal(detectLanguage(text), lang));
  }
});

describe('scanSources: model verdict', () => {
  const report = REPORTS[0]![1];
  const weak = 'hmm not sure the trigger works that well for me';
  const versions = [
    { id: 3, name: 'v3' },
    { id: 2, name: 'V2.0' },
    { id: 1, name: 'v1' },
  ];

  it('counts each reporter once, with their strongest report', () => {
    const once = scanSources([
      { kind: 'comment', id: 'comment:1', label: 'c1', text: report, author: 'ann' },
    ]);
    const twice = scanSources([
      { kind: 'comment', id: 'comment:1', label: 'c1', text: report, author: 'ann' },
      { kind: 'comment', id: 'comment:2', label: 'c2', text: report, author: 'ann' },
    ]);
    assert.equal(twice.score, once.score);
    assert.equal(twice.reporters, 1);
    assert.equal(twice.evidence.length, 2, 'both texts stay as evidence');
  });

  it('lets several weaker reports from different users outweigh one strong report from one user', () => {
    const s = scanText(weak).score;
    const strong = scanText(report).score;
    // Three independent users at score s give 1 − (1 − s)³; pick a text pair where that exceeds one strong report.
    const combined = 1 - (1 - s) ** 3;
    const many = scanSources(
      ['a', 'b', 'c'].map((u, i) => ({
        kind: 'comment' as const,
        id: `comment:${i}`,
        label: `c${i}`,
        text: weak,
        author: u,
      })),
    );
    assert.ok(Math.abs(many.score - Math.round(combined * 10000) / 10000) < 1e-4);
    if (s > 0.25 && s < strong) assert.ok(many.score > s);
  });

  it('attributes a report to the version it names and leaves it out when a later changelog says fixed', () => {
    const sources: TextSource[] = [
      { kind: 'comment', id: 'comment:9', label: 'c9', text: `In v1 ${report}`, author: 'bob', versionId: 3 },
      {
        kind: 'changelog',
        id: 'version:2',
        label: 'version V2.0 changelog',
        text: 'Recaptioned the whole dataset, the trigger issue from v1 is fixed.',
        versionId: 2,
      },
    ];
    const verdict = scanSources(sources, { versions, creator: 'author' });
    const ev = verdict.evidence.find((e) => e.sourceId === 'comment:9');
    assert.equal(ev?.versionId, 1);
    assert.equal(ev?.fixedIn, 'V2.0');
    assert.equal(verdict.fixedReports, 1);
    assert.equal(verdict.flag, false);
    assert.match(verdict.summary, /1 report\(s\) concern a version the author says was fixed in V2\.0/);
    // Without the changelog the same report counts.
    assert.equal(scanSources(sources.slice(0, 1), { versions, creator: 'author' }).flag, true);
  });

  it('matches version mentions by name', () => {
    assert.equal(versionKey('V2.0'), versionKey('v2'));
    assert.equal(versionKey('version 3.1'), '3.1');
    assert.notEqual(versionKey('v2.1'), versionKey('v2'));
  });

  it('weights author text lower than a community report and maps the columns', () => {
    const asComment = scanSources([{ kind: 'comment', id: 'comment:1', label: 'comment 1', text: report }]);
    const asDescription = scanSources([
      { kind: 'description', id: 'description', label: 'description', text: report },
    ]);
    assert.equal(
      asDescription.score,
      Math.round(SOURCE_WEIGHTS.description * scanText(report).score * 10000) / 10000,
    );
    assert.ok(asDescription.score < asComment.score);
    assert.deepEqual(textReportColumns(asComment), {
      tag_error_text: asComment.flag,
      tag_error_text_score: asComment.score,
    });
  });

  it('is not flagged without reports, respects the threshold and skips invalid sources', () => {
    const clean = scanSources([{ kind: 'comment', id: 'comment:1', label: 'c', text: NON_REPORTS[0]![1] }]);
    assert.equal(clean.flag, false);
    assert.equal(clean.summary.length > 0, true);
    assert.equal(
      scanSources([{ kind: 'comment', id: 'c', label: 'c', text: report }], { threshold: 0.9999 }).flag,
      false,
    );
    const withBad = scanSources([{ kind: 'tweet', id: 'x', label: 'x', text: 'mislabeled' } as never]);
    assert.equal(withBad.scannedSources, 0);
    assert.equal(scanSources([]).score, 0);
  });
});

describe('long texts are scanned in pieces', () => {
  it('finds a report deep inside a long text, with offsets into the whole text', async () => {
    const filler = 'Lovely renders and great lighting in every sample. '.repeat(600);
    const report = REPORTS[0]![1];
    const text = `${filler}${report} ${filler}`;
    assert.ok(text.length > 3 * CHUNK_CHARS);
    const scan = scanText(text);
    assert.equal(scan.flag, true);
    const ev = scan.evidence[0]!;
    assert.equal(text.slice(ev.start, ev.end), ev.span);
    assert.ok(ev.start >= filler.length - 1, `${ev.start}`);
    assert.deepEqual(await scanTextAsync(text), scan);
  });

  it('cuts pieces that cover the text, stay within the limit and never split a surrogate pair', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 0, maxLength: 40 }),
        fc.integer({ min: 1, max: 4000 }),
        (unit, times) => {
          const text = unit.repeat(times);
          const pieces = chunkBounds(text);
          let at = 0;
          for (const [s, e] of pieces) {
            assert.equal(s, at);
            assert.ok(e > s || text.length === 0);
            assert.ok(e - s <= CHUNK_CHARS);
            const code = text.charCodeAt(e - 1);
            assert.ok(e === text.length || !(code >= 0xd800 && code <= 0xdbff));
            at = e;
          }
          assert.equal(at, text.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});
