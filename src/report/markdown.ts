import type { Block } from './blocks.ts';

/**
 * Escape user text for Markdown (inline): emphasis, code, links, tables and raw HTML lose their
 * meaning; a leading block marker (heading, quote, list) is escaped; line breaks become spaces so a
 * quote or a table cell stays one line.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_[\]|~]/g, (c) => `\\${c}`)
    .replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'))
    .replace(/^(\s*)([#+=-]|\d+[.)])/, (_, space: string, marker: string) => `${space}\\${marker}`);
}

function fence(text: string): string {
  const ticks = Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1));
  const f = '`'.repeat(ticks);
  return `${f}sh\n${text}\n${f}`;
}

/** Render report blocks as Markdown; charts are relative links into charts/. */
export function renderMarkdown(blocks: readonly Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'h':
        out.push(`${'#'.repeat(b.level)} ${escapeMarkdown(b.text)}`);
        break;
      case 'p':
        out.push(escapeMarkdown(b.text));
        break;
      case 'list':
        out.push(b.items.map((i) => `- ${escapeMarkdown(i)}`).join('\n'));
        break;
      case 'table': {
        const row = (cells: readonly string[]) => `| ${cells.map(escapeMarkdown).join(' | ')} |`;
        out.push([row(b.head), `|${b.head.map(() => ' --- ').join('|')}|`, ...b.rows.map(row)].join('\n'));
        break;
      }
      case 'image':
        out.push(`![${escapeMarkdown(b.alt)}](${b.file})`);
        break;
      case 'quote':
        out.push(`> ${escapeMarkdown(b.text)}`);
        break;
      case 'code':
        out.push(fence(b.text));
        break;
    }
  }
  return `${out.join('\n\n')}\n`;
}
