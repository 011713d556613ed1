/** Civitai image hosts downloads may come from (https only, default port). */
export const CIVITAI_IMAGE_HOSTS = ['image.civitai.com', 'imagecache.civitai.com'] as const;

/** True for a Civitai image host: the two named hosts or any `*.civitai.com` CDN host. */
export function isCivitaiImageHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return (
    (CIVITAI_IMAGE_HOSTS as readonly string[]).includes(h) || (h.endsWith('.civitai.com') && h.length > 12)
  );
}

/**
 * Ask Civitai's image CDN for a bounded width instead of the original. Civitai image URLs look like
 * `https://image.civitai.com/<key>/<uuid>/<options>/<name>` where `<options>` is a comma list such as
 * `width=1024`, `original=true` or `anim=false,width=450`; some URLs have no options segment. The width is
 * lowered to `maxWidth` (never raised), `original=true` is replaced by `width=maxWidth`, and a missing options
 * segment is added. Other URLs are returned unchanged.
 */
export function boundCivitaiImageWidth(url: string, maxWidth: number): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (!isCivitaiImageHost(parsed.hostname) || !Number.isInteger(maxWidth) || maxWidth < 1) return url;
  const segments = parsed.pathname.split('/').filter((s) => s !== '');
  if (segments.length < 3) return url;
  const optionIndex = segments.length - 2;
  const candidate = segments[optionIndex]!;
  const isOptions = /^[a-z]+=[^,/]*(,[a-z]+=[^,/]*)*$/i.test(candidate);
  if (!isOptions) {
    if (segments.length !== 3) return url;
    segments.splice(2, 0, `width=${maxWidth}`);
  } else {
    const parts = candidate.split(',').filter((p) => !/^original=/i.test(p));
    const widthAt = parts.findIndex((p) => /^width=/i.test(p));
    if (widthAt >= 0) {
      const current = Number.parseInt(parts[widthAt]!.slice('width='.length), 10);
      if (!(Number.isFinite(current) && current <= maxWidth)) parts[widthAt] = `width=${maxWidth}`;
    } else {
      parts.push(`width=${maxWidth}`);
    }
    segments[optionIndex] = parts.join(',');
  }
  parsed.pathname = `/${segments.join('/')}`;
  return parsed.toString();
}

/** The width Civitai's CDN is asked for by default: CLIP needs 224 px, Civitai's own previews use 450. */
export const DEFAULT_CDN_WIDTH = 512;

/**
 * The CDN width that keeps an image's shorter side at least `minShortSide` (CLIP's 224) so the
 * preprocessing never upsamples: `base` for portrait and square images and moderate landscapes, more
 * for wide panoramas, never more than the original width. Without known dimensions: `base`.
 */
export function cdnWidthForShortSide(
  width: number | null | undefined,
  height: number | null | undefined,
  minShortSide: number,
  base = DEFAULT_CDN_WIDTH,
): number {
  if (!width || !height || width <= height || width < 1 || height < 1) return base;
  const needed = Math.ceil((minShortSide * width) / height);
  return Math.min(Math.max(base, needed), Math.max(base, Math.round(width)));
}
