/** The configured feedback emoji: a Unicode emoji or a custom server emoji. */
export type FeedbackEmoji = { kind: 'unicode'; name: string } | { kind: 'custom'; id: string; name: string };

const strip = (s: string): string => s.replace(/\uFE0F/g, '');

/** Parse `❌`, `<:name:123…>`, `<a:name:123…>`, or a bare custom emoji id. */
export function parseEmoji(value: string): FeedbackEmoji {
  const custom = /^<a?:([\w~]{2,32}):(\d{17,20})>$/.exec(value.trim());
  if (custom?.[1] && custom[2]) return { kind: 'custom', name: custom[1], id: custom[2] };
  if (/^\d{17,20}$/.test(value.trim())) return { kind: 'custom', name: '_', id: value.trim() };
  return { kind: 'unicode', name: value.trim() };
}

/** The path segment Discord's reaction routes expect. */
export function emojiRoute(emoji: FeedbackEmoji): string {
  return emoji.kind === 'unicode'
    ? encodeURIComponent(emoji.name)
    : encodeURIComponent(`${emoji.name}:${emoji.id}`);
}

/** Whether a reaction's emoji (as the gateway sends it) is the configured one. */
export function emojiMatches(
  emoji: FeedbackEmoji,
  reaction: { id: string | null; name: string | null },
): boolean {
  if (emoji.kind === 'custom') return reaction.id === emoji.id;
  return reaction.id === null && reaction.name !== null && strip(reaction.name) === strip(emoji.name);
}
