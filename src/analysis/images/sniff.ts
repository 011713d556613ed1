/** What the first bytes of a body say it is, before any decoder sees it. */
export type SniffedKind =
  | { kind: 'image'; format: 'jpeg' | 'png' | 'gif' | 'webp' | 'avif' }
  | { kind: 'image-unsupported'; format: string }
  | { kind: 'svg' }
  | { kind: 'video'; format: string }
  | { kind: 'text'; format: string }
  | { kind: 'unknown' };

const ascii = (b: Uint8Array, from: number, to: number): string =>
  String.fromCharCode(...b.subarray(from, Math.min(to, b.length)));

const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

/** Classify a body by magic bytes (and, for text, by its opening markup). */
export function sniffImage(bytes: Uint8Array): SniffedKind {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return { kind: 'image', format: 'jpeg' };
  }
  if (bytes.length >= 8 && ascii(bytes, 0, 8) === '\x89PNG\r\n\x1a\n')
    return { kind: 'image', format: 'png' };
  if (bytes.length >= 6 && (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a')) {
    return { kind: 'image', format: 'gif' };
  }
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF') {
    const sub = ascii(bytes, 8, 12);
    if (sub === 'WEBP') return { kind: 'image', format: 'webp' };
    if (sub === 'AVI ') return { kind: 'video', format: 'avi' };
    return { kind: 'unknown' };
  }
  if (bytes.length >= 12 && ascii(bytes, 4, 8) === 'ftyp') {
    const major = ascii(bytes, 8, 12);
    const boxSize = Math.min(
      ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0,
      64,
    );
    const brands = [major];
    for (let i = 16; i + 4 <= Math.min(boxSize, bytes.length); i += 4) brands.push(ascii(bytes, i, i + 4));
    if (brands.some((b) => AVIF_BRANDS.has(b))) return { kind: 'image', format: 'avif' };
    if (HEIF_BRANDS.has(major)) return { kind: 'image-unsupported', format: 'heif' };
    return { kind: 'video', format: `mp4/${major.trim()}` };
  }
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) {
    return { kind: 'video', format: 'webm' };
  }
  if (bytes.length >= 4 && (ascii(bytes, 0, 4) === 'II*\0' || ascii(bytes, 0, 4) === 'MM\0*')) {
    return { kind: 'image-unsupported', format: 'tiff' };
  }
  if (bytes.length >= 2 && ascii(bytes, 0, 2) === 'BM') return { kind: 'image-unsupported', format: 'bmp' };
  const head = new TextDecoder('utf-8', { fatal: false })
    .decode(bytes.subarray(0, 1024))
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  if (head.startsWith('<')) {
    if (head.includes('<svg')) return { kind: 'svg' };
    if (head.startsWith('<?xml') && !head.includes('<html')) return { kind: 'svg' };
    return { kind: 'text', format: 'html' };
  }
  if (head.startsWith('{') || head.startsWith('[')) return { kind: 'text', format: 'json' };
  return { kind: 'unknown' };
}
