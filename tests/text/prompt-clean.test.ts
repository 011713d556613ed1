import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cleanPrompt, DEFAULT_QUALITY_TAGS } from '../../src/analysis/text/prompt-clean.ts';

const text = (prompt: string, options?: Parameters<typeof cleanPrompt>[1]): string =>
  cleanPrompt(prompt, options).text;

describe('cleanPrompt: extra networks, keywords, embeddings', () => {
  it('removes lora, lyco and hypernet tags and lists them as removed', () => {
    const r = cleanPrompt('1girl, <lora:sorakaV1:0.8>, <lyco:style:1>, solo <hypernet:anime:0.5>');
    assert.equal(r.text, '1girl, solo');
    assert.deepEqual(r.removed, ['<lora:sorakaV1:0.8>', '<lyco:style:1>', '<hypernet:anime:0.5>']);
  });

  it('matches network tags case-insensitively and with spaces', () => {
    assert.equal(text('<LoRA: my char :0.7> smile'), 'smile');
    assert.equal(text('<lycoris:foo> smile'), 'smile');
  });

  it('keeps unrelated angle-bracket text', () => {
    assert.equal(text('<3, heart'), '<3, heart');
  });

  it('turns BREAK into a tag separator but keeps the lowercase word', () => {
    assert.equal(text('1girl BREAK red hair'), '1girl, red hair');
    assert.equal(text('give me a break'), 'give me a break');
    assert.equal(text('BREAKFAST'), 'BREAKFAST');
  });

  it('removes ComfyUI embedding syntax, also inside weights', () => {
    const r = cleanPrompt('(embedding:EasyNegative:1.2), embedding:bad_hands.pt, cat');
    assert.equal(r.text, 'cat');
    assert.ok(r.removed.includes('embedding:EasyNegative'));
    assert.ok(r.removed.includes('embedding:bad_hands.pt'));
  });

  it('removes known embedding names as words but not as parts of words', () => {
    assert.equal(text('EasyNegative, (badhandv4:1.3), easynegativev2, cat'), 'cat');
    assert.equal(text('NotEasyNegativeAtAll, cat'), 'NotEasyNegativeAtAll, cat');
  });

  it('uses a custom embedding list when given', () => {
    assert.equal(text('myEmbed, EasyNegative', { embeddingNames: ['myEmbed'] }), 'EasyNegative');
    assert.equal(text('myEmbed, EasyNegative', { embeddingNames: [] }), 'myEmbed, EasyNegative');
  });
});

describe('cleanPrompt: attention, scheduling, alternation', () => {
  it('unwraps weights and emphasis, recording the weight', () => {
    const r = cleanPrompt('(red hair:1.2), ((smile)), [blurry], {{sparkle}}, (a:-0.5), (b: .8 )');
    assert.equal(r.text, 'red hair, smile, blurry, sparkle, a, b');
    assert.deepEqual(r.removed, [':1.2', ':-0.5', ':.8']);
  });

  it('keeps a colon that is not a weight', () => {
    assert.equal(text('(ratio 16:9 frame)'), 'ratio 16:9 frame');
    assert.equal(text('time 10:30'), 'time 10:30');
  });

  it('keeps the first part of scheduling and alternation', () => {
    const r = cleanPrompt('[cat:dog:0.5], [red|blue|green] eyes, [smile::0.3], [hat:10]');
    assert.equal(r.text, 'cat, red eyes, smile, hat');
    assert.ok(r.removed.includes('dog:0.5'));
    assert.ok(r.removed.includes('blue|green'));
  });

  it('handles nesting inside scheduling and weights around it', () => {
    assert.equal(text('([(cat:1.1)|dog]:1.3) sitting'), 'cat sitting');
    assert.equal(text('[[a|b]:c:5]'), 'a');
  });

  it('keeps escaped parentheses as literal qualifier text', () => {
    assert.equal(text('star \\(sky\\), kaine_\\(nier\\), 1girl'), 'star (sky), kaine_(nier), 1girl');
    assert.equal(text('(kaine_\\(nier\\):1.2)'), 'kaine_(nier)');
  });

  it('reads an unweighted group right after a word as a qualifier and keeps it', () => {
    assert.equal(text('hatsune miku (vocaloid), (smile)'), 'hatsune miku (vocaloid), smile');
  });

  it('drops lone escaped parentheses that do not follow a word', () => {
    assert.equal(text('\\(sky\\)'), 'sky');
    assert.equal(text('a, \\( b'), 'a, b');
  });

  it('tolerates unbalanced brackets', () => {
    assert.equal(text('((((x, y'), 'x, y');
    assert.equal(text('x)))), y]]'), 'x, y');
    assert.equal(text('[a|b'), 'a');
  });

  it('removes backslashes that escape nothing', () => {
    assert.equal(text('a\\\\b'), 'a b');
    assert.equal(text('a \\q b'), 'a q b');
  });
});

describe('cleanPrompt: quality tags and punctuation', () => {
  it('removes default quality boilerplate as whole tags in any spelling', () => {
    const r = cleanPrompt('masterpiece, Best_Quality, (ultra-detailed:1.1), 8k, score_9, score_8_up, 1girl');
    assert.equal(r.text, '1girl');
    assert.ok(r.removed.includes('Best_Quality'));
  });

  it('does not remove quality words inside a longer tag', () => {
    assert.equal(text('masterpiece painting style, 1girl'), 'masterpiece painting style, 1girl');
  });

  it('keeps quality tags on request and accepts a custom list', () => {
    assert.equal(text('masterpiece, 1girl', { keepQualityTags: true }), 'masterpiece, 1girl');
    assert.equal(text('masterpiece, shiny, 1girl', { qualityTags: ['shiny'] }), 'masterpiece, 1girl');
  });

  it('dedupes commas and whitespace while keeping tight separators tight', () => {
    assert.equal(text(' a ,, ,b,\n\tc  d ,, '), 'a, b, c d');
    assert.equal(text('a,b'), 'a,b');
  });

  it('keeps word order and duplicate tags', () => {
    assert.equal(text('zebra, apple, zebra, (mango:1.1)'), 'zebra, apple, zebra, mango');
  });

  it('returns empty text for empty or non-string input without throwing', () => {
    assert.deepEqual(cleanPrompt(''), { text: '', removed: [] });
    assert.deepEqual(cleanPrompt(undefined as unknown as string), { text: '', removed: [] });
    assert.equal(text('masterpiece, best quality'), '');
  });

  it('stays linear on long whitespace runs without commas', { timeout: 2000 }, () => {
    assert.equal(text(`(${' '.repeat(200_000)}x)`), 'x');
  });

  it('survives very deep nesting', () => {
    const deep = `${'('.repeat(5000)}x${')'.repeat(5000)}`;
    assert.equal(text(deep), 'x');
  });

  it('exports a default quality list with the issue examples', () => {
    for (const tag of ['masterpiece', 'best quality', 'high quality', 'highres', 'absurdres', '8k']) {
      assert.ok(DEFAULT_QUALITY_TAGS.includes(tag), tag);
    }
  });
});

const promptArb = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc
    .array(
      fc.constantFrom(
        '(',
        ')',
        '[',
        ']',
        '{',
        '}',
        ':',
        '|',
        ',',
        ' ',
        '\\',
        '\\(',
        '\\)',
        ':1.2',
        '::0.5',
        'BREAK',
        '<lora:x:0.5>',
        '<lyco:',
        'embedding:',
        'EasyNegative',
        'masterpiece',
        'best quality',
        'red',
        'hair',
        'a',
        '_',
        '\n',
        '\uE000',
        '.',
      ),
      { maxLength: 40 },
    )
    .map((parts) => parts.join('')),
);

describe('cleanPrompt: properties', () => {
  it('never throws and never returns longer text', () => {
    fc.assert(
      fc.property(promptArb, (prompt) => {
        const r = cleanPrompt(prompt);
        return r.text.length <= prompt.length && Array.isArray(r.removed);
      }),
      { numRuns: 3000 },
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(promptArb, (prompt) => {
        const once = cleanPrompt(prompt).text;
        assert.equal(cleanPrompt(once).text, once);
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves no prompt syntax behind', () => {
    fc.assert(
      fc.property(promptArb, (prompt) => {
        const out = cleanPrompt(prompt).text;
        assert.doesNotMatch(out, /[[\]{}\\]|<lora:|\bBREAK\b|,\s*,|^\s|\s$/u);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('cleanPrompt: resolved options are reused by content', () => {
  it('equal options in different objects agree; an options object changed between calls is honoured', () => {
    const options = { embeddingNames: ['myEmbed'] as string[] };
    assert.equal(text('myEmbed, cat', options), 'cat');
    assert.equal(text('myEmbed, cat', { embeddingNames: ['myEmbed'] }), 'cat');
    options.embeddingNames = ['other'];
    assert.equal(text('myEmbed, cat', options), 'myEmbed, cat');
    assert.equal(text('other, cat', options), 'cat');
    assert.equal(text('masterpiece, cat', { qualityTags: ['cat'] }), 'masterpiece');
    assert.equal(text('masterpiece, cat'), 'cat');
  });

  it('gives the same text as before for every option set, however many were used (property)', () => {
    const names = fc.array(fc.constantFrom('myEmbed', 'EasyNegative', 'bad_hands', 'x'), { maxLength: 3 });
    fc.assert(
      fc.property(
        names,
        fc.boolean(),
        fc.array(fc.constantFrom('masterpiece', 'cat', 'best quality')),
        (embeddingNames, keepQualityTags, qualityTags) => {
          const prompt = 'masterpiece, myEmbed, best quality, cat, (bad_hands:1.2), x';
          const once = text(prompt, { embeddingNames, keepQualityTags, qualityTags });
          // A fresh, equal options object after other option sets were resolved: the same answer.
          text(prompt, { embeddingNames: ['EasyNegative'] });
          assert.equal(
            text(prompt, {
              embeddingNames: [...embeddingNames],
              keepQualityTags,
              qualityTags: [...qualityTags],
            }),
            once,
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
