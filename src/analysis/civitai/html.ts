import { convert } from 'html-to-text';
import sanitizeHtml from 'sanitize-html';
import TurndownService from 'turndown';

const SAFE_TAGS = [
  'p',
  'br',
  'b',
  'strong',
  'i',
  'em',
  'u',
  's',
  'del',
  'code',
  'pre',
  'blockquote',
  'ul',
  'ol',
  'li',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'a',
  'hr',
  'span',
  'div',
];

/** Remove scripts, styles, iframes, event handlers and unsafe URLs; keep structure and links. */
export function sanitizeDescription(html: string): string {
  return sanitizeHtml(html, {
    allowedTags: SAFE_TAGS,
    allowedAttributes: { a: ['href'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    disallowedTagsMode: 'discard',
    nonTextTags: ['style', 'script', 'textarea', 'option', 'noscript', 'iframe'],
  });
}

/** Sanitised plain text of Civitai description/changelog/comment HTML (entities decoded). */
export function htmlToPlainText(html: string | null | undefined): string {
  if (!html) return '';
  return convert(sanitizeDescription(html), {
    wordwrap: false,
    selectors: [
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'img', format: 'skip' },
      { selector: 'h1', options: { uppercase: false } },
      { selector: 'h2', options: { uppercase: false } },
      { selector: 'h3', options: { uppercase: false } },
    ],
  })
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const turndown = new TurndownService({
  headingStyle: 'atx',
  codeBlockStyle: 'fenced',
  bulletListMarker: '-',
});

/** Safe Markdown (links kept, no raw HTML) for reports and Discord embeds. */
export function htmlToMarkdown(html: string | null | undefined): string {
  if (!html) return '';
  return turndown
    .turndown(sanitizeDescription(html))
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
