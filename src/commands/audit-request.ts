/** Whether the text is something `/audit model` accepts directly: a numeric id or a civitai URL. */
export function looksLikeModelRef(text: string): boolean {
  const value = text.trim();
  if (/^\d{1,12}$/.test(value)) return true;
  try {
    const url = new URL(value);
    return /(^|\.)civitai\.(com|green)$/.test(url.hostname) && /\/models\/\d+/.test(url.pathname);
  } catch {
    return false;
  }
}

/** Browsing level (bitmask of PG=1 and PG-13=2, or everything) the API gets for a channel. */
export function browsingLevelFor(nsfwChannel: boolean): number {
  return nsfwChannel ? 31 : 3;
}
