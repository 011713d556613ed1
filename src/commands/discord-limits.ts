import type { APIEmbed } from 'discord.js';

/** Discord message and embed limits (docs/anchors.md §4; @sapphire/discord-utilities EmbedLimits). */
export const DiscordLimits = {
  content: 2000,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footerText: 2048,
  authorName: 256,
  embedsTotal: 6000,
  embedsPerMessage: 10,
  filesPerMessage: 10,
  /** Default per-file upload limit when the interaction does not say (10 MiB). */
  defaultAttachmentBytes: 10 * 1024 * 1024,
  /** Whole request body cap (25 MB) minus room for the JSON part. */
  requestBytes: 25_000_000 - 512 * 1024,
  autocompleteChoices: 25,
  choiceName: 100,
  choiceValue: 100,
  /** The interaction token lives 15 minutes; stop using it a little earlier. */
  tokenLifeMs: 15 * 60_000,
  tokenMarginMs: 30_000,
} as const;

/** Cut `text` to `max` characters (code points), ending in an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** Characters Discord counts towards the 6000 total of one embed. */
export function embedLength(embed: APIEmbed): number {
  let n = (embed.title?.length ?? 0) + (embed.description?.length ?? 0);
  n += (embed.footer?.text.length ?? 0) + (embed.author?.name.length ?? 0);
  for (const f of embed.fields ?? []) n += f.name.length + f.value.length;
  return n;
}

/**
 * Make embeds fit every per-field limit and the 6000-character total: fields are cut first, then
 * dropped from the last embed backwards, then descriptions shortened.
 */
export function clampEmbeds(input: readonly APIEmbed[]): APIEmbed[] {
  const embeds = input.slice(0, DiscordLimits.embedsPerMessage).map((e) => {
    const out: APIEmbed = { ...e };
    if (out.title !== undefined) out.title = truncate(out.title, DiscordLimits.embedTitle);
    if (out.description !== undefined)
      out.description = truncate(out.description, DiscordLimits.embedDescription);
    if (out.footer) out.footer = { ...out.footer, text: truncate(out.footer.text, DiscordLimits.footerText) };
    if (out.author) out.author = { ...out.author, name: truncate(out.author.name, DiscordLimits.authorName) };
    if (out.fields) {
      out.fields = out.fields.slice(0, DiscordLimits.embedFields).map((f) => ({
        ...f,
        name: truncate(f.name, DiscordLimits.fieldName) || '\u200b',
        value: truncate(f.value, DiscordLimits.fieldValue) || '\u200b',
      }));
    }
    return out;
  });
  const total = (): number => embeds.reduce((n, e) => n + embedLength(e), 0);
  for (let i = embeds.length - 1; i >= 0 && total() > DiscordLimits.embedsTotal; i--) {
    const fields = embeds[i]?.fields;
    while (fields && fields.length > 0 && total() > DiscordLimits.embedsTotal) fields.pop();
  }
  for (let i = embeds.length - 1; i >= 0 && total() > DiscordLimits.embedsTotal; i--) {
    const e = embeds[i];
    if (!e?.description) continue;
    const excess = total() - DiscordLimits.embedsTotal;
    e.description = truncate(e.description, Math.max(1, e.description.length - excess - 1));
  }
  return embeds;
}

/** Human-readable byte size (10 MiB, 512 KiB). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} B`;
}
