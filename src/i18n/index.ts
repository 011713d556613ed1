import { en, type MessageKey } from './en.ts';
import { ja } from './ja.ts';
import { zhCN } from './zh-cn.ts';

export type { MessageKey } from './en.ts';

/** Locales loralens has catalogues for; anything else falls back to English. */
export const SUPPORTED_LOCALES = ['en', 'zh-CN', 'ja'] as const;
export type SupportedLocale = (typeof SUPPORTED_LOCALES)[number];

const catalogues: Record<SupportedLocale, Partial<Record<MessageKey, string>>> = {
  en,
  'zh-CN': zhCN,
  ja,
};

/** Discord locale codes that receive each non-English catalogue (name/description localisations). */
const DISCORD_LOCALES: Record<Exclude<SupportedLocale, 'en'>, readonly string[]> = {
  'zh-CN': ['zh-CN'],
  ja: ['ja'],
};

/** Map a Discord locale (`en-US`, `zh-CN`, `ja`, `fr`, …) to a catalogue; English is the fallback. */
export function resolveLocale(locale: string | null | undefined): SupportedLocale {
  if (!locale) return 'en';
  if (locale === 'zh-CN' || locale.toLowerCase() === 'zh-cn' || locale.toLowerCase() === 'zh-hans') {
    return 'zh-CN';
  }
  if (locale === 'ja' || locale.toLowerCase().startsWith('ja-')) return 'ja';
  return 'en';
}

export type MessageParams = Record<string, string | number>;

/** Translate `key` for a Discord locale, filling `{name}` placeholders; missing keys fall back to English. */
export function t(locale: string | null | undefined, key: MessageKey, params: MessageParams = {}): string {
  const template = catalogues[resolveLocale(locale)][key] ?? en[key];
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (whole, name: string) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

/** Discord `*_localizations` map for a key (non-English locales only; English is the default value). */
export function localizations(key: MessageKey): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [locale, discordLocales] of Object.entries(DISCORD_LOCALES)) {
    const value = catalogues[locale as SupportedLocale][key];
    if (value === undefined) continue;
    for (const d of discordLocales) out[d] = value;
  }
  return out;
}
