import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { detectLanguage } from '../../src/analysis/text/language.ts';
import { normalizeForMatching, originalRange } from '../../src/analysis/text/normalize.ts';
import { CUE_FACTORS } from '../../src/analysis/text/patterns.ts';
import {
  SOURCE_WEIGHTS,
  scanSources,
  scanText,
  type TextSource,
  textReportColumns,
} from '../../src/analysis/text/tag-error-reports.ts';

type Case = [text: string, span: string];

/** Per language: reports that must be flagged (with the span the evidence must cover). */
const POSITIVES: Record<string, Case[]> = {
  en: [
    ['Half the dataset is mislabeled, 1girl gives me a guy.', 'mislabeled'],
    ['Wrong trigger word on the page, the metadata says ohwx.', 'Wrong trigger word'],
    ['the captions are all over the place lol', 'captions are all over the place'],
    ['Pretty sure the tags do not match the images.', 'tags do not match'],
    ['It is tagged as a dress but it is armor.', 'tagged as a dress but'],
  ],
  zh: [
    ['标签错了，出图经常变男的。', '标签错了'],
    ['作者打错标签了', '打错标签'],
    ['触发词不对，没效果。', '触发词不对'],
  ],
  ja: [
    ['タグミスがあるみたいで髪色が変わります。', 'タグミス'],
    ['トリガーワードが間違ってると思います。', 'トリガーワードが間違っ'],
    ['誤ったタグのせいで帽子が消えません。', '誤ったタグ'],
  ],
  ko: [
    ['태그 오류가 있는 듯.', '태그 오류'],
    ['잘못된 태그 때문에 남자 얼굴이 나와요.', '잘못된 태그'],
    ['트리거 워드가 틀렸어요.', '트리거 워드가 틀렸'],
  ],
  es: [
    ['Está mal etiquetado, sale un hombre.', 'mal etiquetado'],
    ['Etiqueta incorrecta en la versión 2.', 'Etiqueta incorrecta'],
  ],
  pt: [
    ['As tags estão erradas, sai um homem.', 'tags estão erradas'],
    ['Foi mal marcado o dataset.', 'mal marcado'],
  ],
  ru: [
    ['Неправильный тег у персонажа.', 'Неправильный тег'],
    ['Теги перепутаны, цвет волос меняется.', 'Теги перепутаны'],
  ],
  de: [
    ['Falsche Tags im Datensatz.', 'Falsche Tags'],
    ['Der Datensatz ist falsch getaggt.', 'falsch getaggt'],
  ],
  fr: [
    ['Mal étiqueté, la robe sort partout.', 'Mal étiqueté'],
    ['Les tags sont faux.', 'tags sont faux'],
  ],
};

/** Per language: hard negatives (negation, instruction, question, other model, own mistake, fixed). */
const NEGATIVES: Record<string, string[]> = {
  en: [
    'No wrong tags here, works great.',
    "Don't use the wrong tag 'blonde', use 'yellow hair'.",
    'How do you fix wrong tags in a dataset?',
    'Unlike the other LoRA with mislabeled captions, this one is clean.',
    'Wrong tag in my prompt was my fault.',
    'v2: fixed the mislabeled images.',
    'Wrong sampler gives artifacts.',
  ],
  zh: [
    '标签没有错。',
    '不要用错误的标签。',
    '和别的模型不同，这个没有标签错误。',
    'v2：修复了v1的标注错误。',
  ],
  ja: [
    'タグミスはないと思います。',
    '間違ったタグは使わないでください。',
    '学習データのタグミスってどうやって直しますか？',
  ],
  ko: ['태그 오류 없어요.', '잘못된 태그는 사용하지 마세요.', '데이터셋의 잘못된 태그는 어떻게 고치나요?'],
  es: ['No hay etiquetas incorrectas.', "No uses la etiqueta equivocada 'blonde'."],
  pt: ['Não tem nenhuma tag errada.', "Não use a tag errada 'blonde'."],
  ru: ['Никаких неправильных тегов.', "Не используйте неправильный тег 'blonde'."],
  de: ['Keine falschen Tags.', 'Die Tags sind nicht falsch.'],
  fr: ['Aucun tag incorrect.', 'Les tags ne sont pas faux.'],
};

describe('scanText: reports per language', () => {
  for (const [lang, cases] of Object.entries(POSITIVES)) {
    for (const [text, span] of cases) {
      it(`${lang}: flags "${text}"`, () => {
        const scan = scanText(text);
        assert.equal(scan.flag, true, JSON.stringify(scan));
        assert.equal(scan.lang, lang);
        assert.ok(scan.score >= 0.5 && scan.score <= 1);
        const ev = scan.evidence.find((e) => e.span === span);
        assert.ok(ev, `no evidence with span "${span}": ${JSON.stringify(scan.evidence)}`);
        assert.equal(text.slice(ev.start, ev.end), ev.span);
        assert.ok(ev.rule.startsWith(`${lang}.`), ev.rule);
      });
    }
  }
  for (const [lang, texts] of Object.entries(NEGATIVES)) {
    for (const text of texts) {
      it(`${lang}: does not flag "${text}"`, () => {
        const scan = scanText(text);
        assert.equal(scan.flag, false, JSON.stringify(scan));
        assert.ok(scan.score < 0.5);
      });
    }
  }
});

describe('scanText: cues and scores', () => {
  it('multiplies the rule weight by the cue factor and names the cue', () => {
    const plain = scanText('The tags are wrong.');
    const denied = scanText('The tags are not wrong.', { minEvidenceScore: 0 });
    assert.equal(plain.evidence[0]?.score, 0.75);
    assert.deepEqual(denied.evidence[0]?.cues, ['negation']);
    assert.equal(denied.evidence[0]?.score, Math.round(0.75 * CUE_FACTORS.negation * 10000) / 10000);
  });

  it('drops evidence below minEvidenceScore and keeps it when asked', () => {
    assert.equal(scanText('No wrong tags here.').evidence.length, 0);
    assert.equal(scanText('No wrong tags here.', { minEvidenceScore: 0 }).evidence.length, 1);
  });

  it('treats a question about this model as a report but a general question as none', () => {
    const aboutThis = scanText('Did you mislabel the dataset?');
    assert.deepEqual(aboutThis.evidence[0]?.cues, ['questionAboutThis']);
    assert.equal(aboutThis.flag, true);
    const general = scanText('Is it normal that wrong tags cause bleeding?', { minEvidenceScore: 0 });
    assert.deepEqual(general.evidence[0]?.cues, ['generalQuestion']);
  });

  it('reads 吧？ as an assertion, not a question', () => {
    assert.equal(scanText('触发词错了吧？元数据里是别的。').flag, true);
  });

  it('combines several reports in one text by noisy-OR and keeps the strongest of overlapping matches', () => {
    const scan = scanText('Mislabeled dataset. Also the trigger word is wrong.');
    assert.equal(scan.evidence.length, 2);
    const [a, b] = scan.evidence.map((e) => e.score);
    assert.equal(scan.score, Math.round((1 - (1 - (a ?? 0)) * (1 - (b ?? 0))) * 10000) / 10000);
    assert.ok((scan.evidence[0]?.end ?? 0) <= (scan.evidence[1]?.start ?? 0), 'no overlapping evidence');
  });

  it('honours a custom threshold', () => {
    assert.equal(scanText('The trigger word should be k4t.').flag, false);
    assert.equal(scanText('The trigger word should be k4t.', { threshold: 0.4 }).flag, true);
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
});

describe('scanText: offsets into the original text', () => {
  it('maps through HTML tags and entities', () => {
    const html = '<p>Great LoRA &amp; nice style.</p><p>But the trigger&nbsp;word is wrong!</p>';
    const ev = scanText(html).evidence[0];
    assert.equal(ev?.span, 'trigger&nbsp;word is wrong');
    assert.equal(html.slice(ev?.start, ev?.end), ev?.span);
  });

  it('maps through full-width characters and case', () => {
    const text = 'ＴＨＥ ＴＡＧＳ ＡＲＥ ＷＲＯＮＧ, sadly';
    const ev = scanText(text).evidence[0];
    assert.equal(ev?.span, 'ＴＡＧＳ ＡＲＥ ＷＲＯＮＧ');
  });

  it('maps through Traditional Chinese folding and astral characters', () => {
    const text = '😀😀 這個模型的標籤錯誤很明顯';
    const scan = scanText(text);
    assert.equal(scan.flag, true);
    assert.equal(scan.evidence[0]?.span, '標籤錯誤');
    assert.equal(text.slice(scan.evidence[0]?.start, scan.evidence[0]?.end), '標籤錯誤');
  });

  it('gives ±60 characters of context', () => {
    const text = `${'a'.repeat(100)} mislabeled ${'b'.repeat(100)}`;
    const ev = scanText(text).evidence[0];
    assert.equal(ev?.context, `${'a'.repeat(59)} mislabeled ${'b'.repeat(59)}`);
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
      { numRuns: 500 },
    );
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
  const sources: TextSource[] = [
    { kind: 'description', id: 'description', label: 'description', text: 'My best LoRA so far.' },
    { kind: 'changelog', id: 'version:12', label: 'version v2 changelog', text: 'Retrained at dim 32.' },
    { kind: 'comment', id: 'comment:456', label: 'comment 456', text: 'The trigger word is wrong, use k4t.' },
    { kind: 'review', id: 'review:789', label: 'review 789', text: 'タグミスがあるみたいです。' },
  ];

  it('combines per-source scores by weighted noisy-OR and keeps the source of every piece of evidence', () => {
    const verdict = scanSources(sources);
    const s1 = scanText(sources[2]?.text ?? '').score;
    const s2 = scanText(sources[3]?.text ?? '').score;
    const expected = 1 - (1 - SOURCE_WEIGHTS.comment * s1) * (1 - SOURCE_WEIGHTS.review * s2);
    assert.equal(verdict.score, Math.round(expected * 10000) / 10000);
    assert.equal(verdict.flag, true);
    assert.equal(verdict.threshold, 0.5);
    assert.equal(verdict.scannedSources, 4);
    assert.deepEqual(
      verdict.evidence.map((e) => [e.sourceId, e.sourceKind, e.sourceLabel, e.lang]),
      [
        ['comment:456', 'comment', 'comment 456', 'en'],
        ['review:789', 'review', 'review 789', 'ja'],
      ],
    );
    assert.deepEqual(textReportColumns(verdict), {
      tag_error_text: true,
      tag_error_text_score: verdict.score,
    });
  });

  it('weights author text lower than a community report', () => {
    const text = 'Known issue: the trigger word is wrong in v1.';
    const asComment = scanSources([{ kind: 'comment', id: 'comment:1', label: 'comment 1', text }]);
    const asDescription = scanSources([
      { kind: 'description', id: 'description', label: 'description', text },
    ]);
    assert.ok(asDescription.score < asComment.score);
    assert.equal(
      asDescription.score,
      Math.round(SOURCE_WEIGHTS.description * asComment.score * 10000) / 10000,
    );
  });

  it('is not flagged without reports, respects the threshold and skips invalid sources', () => {
    const clean = scanSources(sources.slice(0, 2));
    assert.deepEqual([clean.flag, clean.score, clean.evidence.length], [false, 0, 0]);
    assert.equal(scanSources(sources, { threshold: 0.99 }).flag, false);
    const withBad = scanSources([
      ...sources,
      { kind: 'tweet', id: 'x', label: 'x', text: 'mislabeled' } as never,
    ]);
    assert.equal(withBad.scannedSources, 4);
    assert.equal(scanSources([]).score, 0);
  });
});
