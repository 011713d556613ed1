import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  convertHtmlAsync,
  convertToMarkdown,
  convertToPlainText,
  HTML_LIMITS,
  htmlToMarkdown,
  htmlToPlainText,
  sanitizeDescription,
} from '../../src/analysis/civitai/html.ts';

const nested = (depth: number, tag = 'div', inner = 'deep text') =>
  `${`<${tag}>`.repeat(depth)}${inner}${`</${tag}>`.repeat(depth)}`;

/** Deepest tag nesting of sanitised (well-formed) HTML. */
function maxDepth(html: string): number {
  let depth = 0;
  let deepest = 0;
  for (const m of html.matchAll(/<(\/?)([a-z0-9]+)[^>]*?(\/?)>/gi)) {
    if (m[1]) depth--;
    else if (!m[3] && !['br', 'hr'].includes(m[2]!.toLowerCase())) {
      depth++;
      deepest = Math.max(deepest, depth);
    }
  }
  return deepest;
}

/** A `<` that is not backslash-escaped: where a tag, autolink or mention could start. */
const liveAngle = /(^|[^\\])(\\\\)*</;

describe('deeply nested HTML', () => {
  for (const [what, depth, tag] of [
    ['description of 2,000 nested divs', 2_000, 'div'],
    ['comment of 3,000 nested spans', 3_000, 'span'],
    ['16,000 nested blockquotes', 16_000, 'blockquote'],
    ['unclosed 5,000 nested list items', 5_000, 'li'],
  ] as const) {
    test(`${what}: converted without a stack overflow, the text kept, the flattening noted`, () => {
      const html = tag === 'li' ? `${'<ul><li>'.repeat(depth / 2)}deep text` : nested(depth, tag);
      const text = convertToPlainText(html, { maxChars: 1_000_000 });
      assert.match(text.value, /deep text/);
      assert.ok(
        text.notes.some((n) => n.includes(`below level ${HTML_LIMITS.maxDepth} were flattened`)),
        text.notes.join('; '),
      );
      const md = convertToMarkdown(html, { maxChars: 1_000_000 });
      assert.match(md.value, /deep text/);
      assert.ok(md.notes.length > 0);
    });
  }

  test('the HTML handed to the converters is never nested deeper than the limit', () => {
    // Depth, not size, is what makes turndown quadratic and html-to-text overflow: bound it before them.
    assert.equal(maxDepth(sanitizeDescription(nested(1_000))), HTML_LIMITS.maxDepth);
    assert.equal(maxDepth(sanitizeDescription(nested(10))), 10);
    assert.equal(convertToPlainText(nested(10)).notes.length, 0, 'no note when nothing was flattened');
  });
});

describe('size caps', () => {
  test('a 5 MB description is cut at the stated limit with a note', () => {
    const html = `<p>${'word '.repeat(1_000_000)}</p>`;
    const text = convertToPlainText(html, { maxChars: HTML_LIMITS.longTextChars });
    assert.ok(text.value.length <= HTML_LIMITS.longTextChars, `${text.value.length} characters kept`);
    assert.ok(text.value.length > HTML_LIMITS.longTextChars / 2);
    assert.deepEqual(text.notes, [`cut at ${HTML_LIMITS.longTextChars} of ${html.length} characters`]);
    assert.ok(htmlToPlainText(html).length <= HTML_LIMITS.longTextChars, 'the default is the long-text cap');
  });
});

describe('entity-encoded markup stays text', () => {
  const html =
    '<p>&lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(2)&gt; ping &lt;@123456&gt;</p>' +
    '<p><code>&lt;b&gt;code&lt;/b&gt;</code> <a href="https://civitai.com/x?q=&lt;i&gt;(1)">link &lt;u&gt;</a></p>';

  test('plain text keeps the decoded characters for the detectors', () => {
    const text = htmlToPlainText(html);
    assert.match(text, /<script>alert\(1\)<\/script>/);
    assert.match(text, /<@123456>/);
  });

  test('Markdown has no live tag, autolink or mention: every < outside code is escaped', () => {
    const md = htmlToMarkdown(html);
    const outsideCode = md.replace(/`[^`]*`/g, '');
    assert.doesNotMatch(outsideCode, liveAngle, md);
    assert.ok(md.includes('\\<script>alert(1)\\</script>'), md);
    assert.match(md, /\\<@123456>/);
    assert.match(md, /`<b>code<\/b>`/, 'inside a code span the text is literal and inert');
    assert.match(md, /\[link \\<u>\]\(https:\/\/civitai\.com\/x\?q=%3Ci%3E%281%29\)/);
  });

  test('a literal backslash before an encoded < does not unescape it', () => {
    const md = htmlToMarkdown('<p>\\&lt;script&gt;</p>');
    assert.doesNotMatch(md, liveAngle, md);
  });
});

describe('convertHtmlAsync', () => {
  test('gives the same text and Markdown as the two synchronous converters, notes included', async () => {
    const inputs = [
      '<p>Trigger: <b>mika</b> &lt;script&gt;</p>',
      `${'<div>'.repeat(3000)}deep${'</div>'.repeat(3000)}`,
      '<p>x</p>'.repeat(20_000),
      '',
    ];
    for (const html of inputs) {
      const both = await convertHtmlAsync(html);
      assert.deepEqual(both.text, convertToPlainText(html));
      assert.equal(both.markdown, convertToMarkdown(html).value);
    }
  });
});
