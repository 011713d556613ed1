import { escapeMarkdown } from 'discord.js';

/**
 * Make user-controlled text (model names, evidence quotes, comments) inert in a Discord message or
 * embed: Markdown (including headings, lists, masked links and quotes) is escaped, and mentions
 * (`@everyone`, `@here`, `<@id>`, `<@&id>`, `<#id>`) get a zero-width space so they neither ping
 * nor render as mentions. Messages also send `allowed_mentions: { parse: [] }`.
 */
export function escapeUserText(text: string): string {
  const escaped = escapeMarkdown(text, {
    heading: true,
    bulletedList: true,
    numberedList: true,
    maskedLink: true,
  }).replace(/^>/gm, '\\>');
  return escaped.replace(/@(everyone|here)/g, '@\u200b$1').replace(/<(@[!&]?|#)(\d)/g, '<$1\u200b$2');
}
