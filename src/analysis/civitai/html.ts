import { compile } from 'html-to-text';
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

/**
 * Bounds on the Civitai HTML (descriptions, changelogs, comments, reviews) loralens converts. Anyone
 * can write these texts, and html-to-text and turndown recurse once per nesting level (about 1,500
 * levels overflow the stack) and slow down with depth, so depth and size are bounded before either
 * runs. Each cut is reported as a note on the item.
 */
export const HTML_LIMITS = {
  /** Tags nested deeper than this are dropped; their text is kept. */
  maxDepth: 64,
  /** A model description or version changelog longer than this many characters of HTML is cut. */
  longTextChars: 50_000,
  /** One comment, review or reply longer than this many characters of HTML is cut. */
  commentChars: 20_000,
} as const;

export interface ConvertLimits {
  /** Characters of HTML read; the rest is cut off before parsing. */
  maxChars: number;
  /** Deepest tag nesting kept. */
  maxDepth?: number;
}

/** A converted text and what had to be done to it (empty when nothing). */
export interface ConvertedText {
  value: string;
  /** Sentences such as "cut at 50000 characters", "tags nested deeper than 64 levels were flattened". */
  notes: string[];
}

interface Sanitized {
  html: string;
  notes: string[];
}

/** Sanitise with the depth and size bounds; never throws for any input string. */
function boundedSanitize(html: string, limits: ConvertLimits): Sanitized {
  const notes: string[] = [];
  const maxDepth = limits.maxDepth ?? HTML_LIMITS.maxDepth;
  let input = html;
  if (input.length > limits.maxChars) {
    notes.push(`cut at ${limits.maxChars} of ${input.length} characters`);
    input = input.slice(0, limits.maxChars);
  }
  let depth = 0;
  let deepest = 0;
  const out = sanitizeHtml(input, {
    allowedTags: SAFE_TAGS,
    allowedAttributes: { a: ['href'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    disallowedTagsMode: 'discard',
    nonTextTags: ['style', 'script', 'textarea', 'option', 'noscript', 'iframe'],
    nestingLimit: maxDepth,
    onOpenTag: () => {
      depth++;
      if (depth > deepest) deepest = depth;
    },
    onCloseTag: () => {
      depth--;
    },
  });
  if (deepest > maxDepth) {
    notes.push(`tags nested ${deepest} levels deep; those below level ${maxDepth} were flattened`);
  }
  return { html: out, notes };
}

/** Remove scripts, styles, iframes, event handlers and unsafe URLs; keep structure and links. */
export function sanitizeDescription(html: string): string {
  return boundedSanitize(html, { maxChars: HTML_LIMITS.longTextChars }).html;
}

/** Last resort when a converter still fails: tags stripped, nothing else (never throws). */
function stripTags(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .trim();
}

/** html-to-text compiled once: compiling its options on every call cost more than converting. */
const htmlToTextCompiled = compile({
  wordwrap: false,
  selectors: [
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'img', format: 'skip' },
    { selector: 'h1', options: { uppercase: false } },
    { selector: 'h2', options: { uppercase: false } },
    { selector: 'h3', options: { uppercase: false } },
  ],
});

function toPlain(safeHtml: string): string {
  return htmlToTextCompiled(safeHtml)
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Sanitised plain text of Civitai HTML (entities decoded: `&lt;b&gt;` is the text `<b>`, which the
 * detectors must see as written). Depth and size bounded by `limits`; never throws: a text the
 * converter still cannot handle becomes its tag-stripped form with a note.
 */
export function convertToPlainText(
  html: string | null | undefined,
  limits: ConvertLimits = { maxChars: HTML_LIMITS.longTextChars },
): ConvertedText {
  return html ? plainFrom(boundedSanitize(html, limits)) : { value: '', notes: [] };
}

function plainFrom(safe: Sanitized): ConvertedText {
  try {
    return { value: toPlain(safe.html), notes: safe.notes };
  } catch {
    return {
      value: decodeEntities(stripTags(safe.html)),
      notes: [...safe.notes, 'could not be converted; its tags were stripped'],
    };
  }
}

/** Sanitised plain text of Civitai description/changelog/comment HTML (entities decoded). */
export function htmlToPlainText(html: string | null | undefined): string {
  return convertToPlainText(html).value;
}

const turndown = new TurndownService({
  headingStyle: 'atx',
  codeBlockStyle: 'fenced',
  bulletListMarker: '-',
});
const escapeMarkdownText = turndown.escape.bind(turndown);
// Decoded text such as `&lt;script&gt;` must not come out as a live tag: `<` is backslash-escaped
// (CommonMark and Discord both show `\<` as `<` and never start a tag or mention from it).
turndown.escape = (text: string): string => escapeTagOpeners(escapeMarkdownText(text));
turndown.addRule('safeLink', {
  filter: (node) => node.nodeName === 'A' && node.getAttribute('href') !== null,
  replacement: (content, node) => {
    const href: string = node.getAttribute('href') ?? '';
    // A destination with <, >, spaces or parentheses could end the link early and leave the rest live.
    const dest = href.replace(
      /[<>()\s]/g,
      (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
    );
    return `[${content}](${dest})`;
  },
});

/**
 * Backslash-escape every `<` of Markdown text, so that no HTML tag, comment, autolink or Discord
 * mention can start from it (`>` cannot start one). Apply after any other Markdown escaping.
 */
export function escapeTagOpeners(markdownText: string): string {
  return markdownText.replaceAll('<', '\\<');
}

/**
 * Safe Markdown (links kept, no raw HTML, no live tag even from entity-encoded text) for reports
 * and Discord embeds. Depth and size bounded by `limits`; never throws: a text the converter still
 * cannot handle becomes its escaped tag-stripped text with a note.
 */
export function convertToMarkdown(
  html: string | null | undefined,
  limits: ConvertLimits = { maxChars: HTML_LIMITS.longTextChars },
): ConvertedText {
  return html ? markdownFrom(boundedSanitize(html, limits)) : { value: '', notes: [] };
}

function markdownFrom(safe: Sanitized): ConvertedText {
  try {
    return { value: markdownOf(safe), notes: safe.notes };
  } catch {
    return {
      value: escapeTagOpeners(escapeMarkdownText(decodeEntities(stripTags(safe.html)))),
      notes: [...safe.notes, 'could not be converted to Markdown; its tags were stripped'],
    };
  }
}

/** Markdown of sanitised HTML (throws when the converter fails). */
function markdownOf(safe: Sanitized): string {
  return turndown
    .turndown(safe.html)
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Plain text and Markdown of one Civitai HTML text, sanitised once, with a turn of the event loop
 * between the steps: a long or deeply nested description then never blocks a bot's gateway for the
 * sum of the three. Same results as {@link convertToPlainText} and {@link convertToMarkdown}.
 */
export async function convertHtmlAsync(
  html: string | null | undefined,
  limits: ConvertLimits = { maxChars: HTML_LIMITS.longTextChars },
): Promise<{ text: ConvertedText; markdown: string }> {
  if (!html) return { text: { value: '', notes: [] }, markdown: '' };
  const safe = boundedSanitize(html, limits);
  await yieldToEventLoop();
  const text = plainFrom(safe);
  await yieldToEventLoop();
  return { text, markdown: markdownFrom(safe).value };
}

/** Safe Markdown (links kept, no raw HTML) for reports and Discord embeds. */
export function htmlToMarkdown(html: string | null | undefined): string {
  return convertToMarkdown(html).value;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** The entities sanitize-html writes (named basics and numeric); used only on the fallback path. */
function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code =
        ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
      return Number.isInteger(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}
