import { localizations, type MessageKey, t } from '../i18n/index.ts';

/** `name`/`description` plus Discord's per-locale maps, from two catalogue keys. */
export function named(nameKey: MessageKey, descriptionKey: MessageKey) {
  return {
    name: t('en', nameKey),
    name_localizations: localizations(nameKey),
    description: t('en', descriptionKey),
    description_localizations: localizations(descriptionKey),
  };
}

/** A localized choice. */
export function choice<V extends string>(key: MessageKey, value: V) {
  return { name: t('en', key), name_localizations: localizations(key), value };
}
