import assert from 'node:assert/strict';
import { test } from 'node:test';
import { htmlToMarkdown, htmlToPlainText } from '../../src/analysis/civitai/html.ts';
import { needsShared } from '../support/requirements.ts';
import { readShared } from '../support/shared-catalogue.ts';

test('description HTML becomes plain text: scripts, handlers and images dropped, entities decoded', () => {
  const text = htmlToPlainText(
    '<p>Trigger: <b>aurora&nbsp;knight</b> &amp; friends</p><script>alert(1)</script><img src=x onerror=alert(2)><style>p{}</style><p>line 2</p>',
  );
  assert.equal(text, 'Trigger: aurora\u00a0knight & friends\n\nline 2');
  assert.equal(htmlToPlainText(null), '');
});

test('safe Markdown keeps http links and drops javascript: links and raw HTML', () => {
  const md = htmlToMarkdown(
    '<p><a href="javascript:alert(1)">bad</a> <a href="https://civitai.com/x">good</a> <iframe src="https://e.vil"></iframe></p>',
  );
  assert.equal(md, 'bad [good](https://civitai.com/x)');
});

test('the real description of model 11821 keeps its trigger words as text', needsShared(), () => {
  const model = readShared<{ description: string }>('fixtures/civitai/model-11821-lora.json');
  const text = htmlToPlainText(model.description);
  assert.match(text, /vsknormal, white shirt/);
  assert.match(text, /Inpainting keyword: VSKface/);
  assert.doesNotMatch(text, /<[a-z]/i);
});
