import type { Block } from './blocks.ts';

/** Escape text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font-family:'Noto Sans','Noto Sans CJK SC',system-ui,sans-serif;max-width:1040px;margin:2rem auto;padding:0 1rem;color:#1b2631;line-height:1.5}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{border:1px solid #ccd1d1;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f3f4}img{max-width:100%;border:1px solid #e5e8e8}blockquote{border-left:4px solid #c0392b;margin:.5rem 0;padding:.25rem 1rem;background:#fdedec}
pre{background:#f4f6f6;padding:.75rem;overflow-x:auto}h1,h2{border-bottom:1px solid #e5e8e8}`;

/**
 * One self-contained page (no external requests): charts inline as data: URLs, every user text
 * escaped, no script. A Content-Security-Policy forbids anything else.
 */
export function renderHtml(
  blocks: readonly Block[],
  images: ReadonlyMap<string, Buffer>,
  lang = 'en',
): string {
  const body: string[] = [];
  let title = 'loralens audit report';
  for (const b of blocks) {
    switch (b.kind) {
      case 'h':
        if (b.level === 1) title = b.text;
        body.push(`<h${b.level}>${escapeHtml(b.text)}</h${b.level}>`);
        break;
      case 'p':
        body.push(`<p>${escapeHtml(b.text)}</p>`);
        break;
      case 'list':
        body.push(`<ul>${b.items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`);
        break;
      case 'table':
        body.push(
          `<table><thead><tr>${b.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${b.rows
            .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
            .join('')}</tbody></table>`,
        );
        break;
      case 'image': {
        const png = images.get(b.file);
        if (png)
          body.push(
            `<figure><img alt="${escapeHtml(b.alt)}" src="data:image/png;base64,${png.toString('base64')}"></figure>`,
          );
        break;
      }
      case 'quote':
        body.push(`<blockquote>${escapeHtml(b.text)}</blockquote>`);
        break;
      case 'code':
        body.push(`<pre><code>${escapeHtml(b.text)}</code></pre>`);
        break;
    }
  }
  return `<!doctype html>
<html lang="${escapeHtml(lang)}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body.join('\n')}
</body>
</html>
`;
}
