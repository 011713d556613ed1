import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { AppError, ErrorCode } from '../errors.ts';
import { clipCleanText } from './text-clean.ts';

export const CLIP_CONTEXT_LENGTH = 77;
export const CLIP_SOT = 49406;
export const CLIP_EOT = 49407;
const VOCAB_SIZE = 49408;
const MERGE_COUNT = 49152 - 256 - 2;

/** openai/CLIP's merges file, shipped with loralens in assets/models (MIT, Copyright (c) 2021 OpenAI). */
export const CLIP_VOCAB_FILE_NAME = 'bpe_simple_vocab_16e6.txt.gz';
/** The shipped vocabulary, found relative to this module (from src/ and from dist/), not the cwd. */
export const BUNDLED_CLIP_VOCAB_PATH = fileURLToPath(
  new URL(`../../../assets/models/${CLIP_VOCAB_FILE_NAME}`, import.meta.url),
);
/** sha256 of the decompressed merges text, so a re-compressed copy of the same vocabulary is accepted. */
const CLIP_VOCAB_TEXT_SHA256 = '67603cfda2e032ad77b5f8808af37789d590db664b26df8705d2bf8b3c553fc8';

/** One prompt as CLIP's `tokenize(text, context_length=77, truncate=True)` returns it. */
export interface ClipTokenized {
  /** 77 ids: start token, BPE ids, end token as the last kept id, zero padding. */
  ids: number[];
  /** Length of the untruncated sequence including the start and end tokens. */
  nTokens: number;
  truncated: boolean;
}

/** A run of at most 75 BPE ids wrapped in start/end tokens and padded to 77. */
export interface ClipWindow {
  ids: number[];
  /** Index of the first BPE id of this window in the prompt's BPE sequence. */
  start: number;
}

export interface ClipTokenizer {
  /** BPE ids of the cleaned, lower-cased text, without start/end tokens (openai `SimpleTokenizer.encode`). */
  encode(text: string): number[];
  /** Exactly `clip.tokenize(text, context_length, truncate=True)` for one text. */
  tokenize(text: string, contextLength?: number): ClipTokenized;
  /** Covers a long prompt with consecutive windows of `contextLength - 2` BPE ids (at least one window). */
  windows(text: string, contextLength?: number, maxWindows?: number): ClipWindow[];
  decode(ids: readonly number[]): string;
}

/** Byte → printable-unicode table of GPT-2/CLIP byte-level BPE, in the reference insertion order. */
export function bytesToUnicode(): Array<[number, string]> {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n += 1;
    }
  }
  return bs.map((b, i) => [b, String.fromCodePoint(cs[i]!)]);
}

// openai/CLIP's pattern; the text is lower-cased before matching, so IGNORECASE changes nothing.
// `\s` is spelled out as Python's Unicode White_Space set (JS `\s` also matches U+FEFF and lacks U+0085).
const WS = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TOKEN_RE = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${WS}\\p{L}\\p{N}]+`,
  'gu',
);

/**
 * Build the CLIP BPE tokenizer from the text of `bpe_simple_vocab_16e6.txt` (already gunzipped).
 * Throws MODEL_INVALID when the merges file does not have the expected shape.
 */
export function createClipTokenizer(mergesText: string): ClipTokenizer {
  const lines = mergesText.split('\n').slice(1, MERGE_COUNT + 1);
  if (lines.length !== MERGE_COUNT) {
    throw new AppError(ErrorCode.MODEL_INVALID, `CLIP merges file has ${lines.length} merges`, {
      details: { expected: MERGE_COUNT },
    });
  }
  const byteTable = bytesToUnicode();
  const byteEncoder: string[] = new Array(256);
  const byteDecoder = new Map<string, number>();
  for (const [b, ch] of byteTable) {
    byteEncoder[b] = ch;
    byteDecoder.set(ch, b);
  }
  const vocab: string[] = byteTable.map(([, ch]) => ch);
  for (const [, ch] of byteTable) vocab.push(`${ch}</w>`);
  const ranks = new Map<string, number>();
  lines.forEach((line, rank) => {
    const parts = line.split(' ');
    if (parts.length !== 2) {
      throw new AppError(ErrorCode.MODEL_INVALID, `Malformed CLIP merge on line ${rank + 2}`);
    }
    ranks.set(line, rank);
    vocab.push(parts[0]! + parts[1]!);
  });
  vocab.push('<|startoftext|>', '<|endoftext|>');
  if (vocab.length !== VOCAB_SIZE) {
    throw new AppError(ErrorCode.MODEL_INVALID, `CLIP vocabulary has ${vocab.length} entries`);
  }
  const encoder = new Map<string, number>();
  for (const [id, token] of vocab.entries()) encoder.set(token, id);
  const cache = new Map<string, number[]>([
    ['<|startoftext|>', [CLIP_SOT]],
    ['<|endoftext|>', [CLIP_EOT]],
  ]);

  const bpe = (token: string): number[] => {
    const cached = cache.get(token);
    if (cached) return cached;
    const chars = [...token];
    let word = chars.slice(0, -1);
    word.push(`${chars[chars.length - 1]}</w>`);
    while (word.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best]!;
      const second = word[best + 1]!;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    const ids = word.map((piece) => {
      const id = encoder.get(piece);
      if (id === undefined) throw new AppError(ErrorCode.INTERNAL, `BPE piece not in vocabulary: ${piece}`);
      return id;
    });
    if (cache.size < 100_000) cache.set(token, ids);
    return ids;
  };

  const utf8 = new TextEncoder();
  const encode = (text: string): number[] => {
    const cleaned = clipCleanText(text).toLowerCase();
    const out: number[] = [];
    for (const match of cleaned.matchAll(TOKEN_RE)) {
      let mapped = '';
      for (const b of utf8.encode(match[0])) mapped += byteEncoder[b];
      for (const id of bpe(mapped)) out.push(id);
    }
    return out;
  };

  const pad = (ids: number[], contextLength: number): number[] => {
    const out = ids.slice();
    while (out.length < contextLength) out.push(0);
    return out;
  };

  return {
    encode,
    tokenize(text, contextLength = CLIP_CONTEXT_LENGTH) {
      const tokens = [CLIP_SOT, ...encode(text), CLIP_EOT];
      const nTokens = tokens.length;
      const truncated = nTokens > contextLength;
      const kept = truncated ? tokens.slice(0, contextLength) : tokens;
      if (truncated) kept[contextLength - 1] = CLIP_EOT;
      return { ids: pad(kept, contextLength), nTokens, truncated };
    },
    windows(text, contextLength = CLIP_CONTEXT_LENGTH, maxWindows = 8) {
      const bpeIds = encode(text);
      const size = contextLength - 2;
      const result: ClipWindow[] = [];
      if (bpeIds.length === 0) result.push({ ids: pad([CLIP_SOT, CLIP_EOT], contextLength), start: 0 });
      for (let start = 0; start < bpeIds.length && result.length < maxWindows; start += size) {
        const chunk = bpeIds.slice(start, start + size);
        result.push({ ids: pad([CLIP_SOT, ...chunk, CLIP_EOT], contextLength), start });
      }
      return result;
    },
    decode(ids) {
      const bytes: number[] = [];
      let text = '';
      const flush = (): void => {
        if (bytes.length) text += Buffer.from(bytes).toString('utf8');
        bytes.length = 0;
      };
      for (const id of ids) {
        if (id === CLIP_SOT || id === CLIP_EOT || id === 0) continue;
        const piece = vocab[id];
        if (piece === undefined) continue;
        const word = piece.endsWith('</w>') ? piece.slice(0, -4) : piece;
        for (const ch of word) {
          const b = byteDecoder.get(ch);
          if (b !== undefined) bytes.push(b);
        }
        if (piece.endsWith('</w>')) bytes.push(0x20);
      }
      flush();
      return text.trim();
    },
  };
}

function vocabError(code: ErrorCode, path: string, problem: string, cause?: unknown): AppError {
  return new AppError(code, `CLIP vocabulary ${path}: ${problem}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { path },
    userMessage: `The CLIP vocabulary ${path} ${problem}.`,
  });
}

/**
 * Load the tokenizer from a gzipped `bpe_simple_vocab_16e6.txt.gz` (default: the shipped copy), checking
 * in turn that the file can be read, is gzip, holds CLIP's 48 894 BPE merges and is exactly CLIP's
 * vocabulary (sha256 of the text); the error's sentence names the check that failed and the path.
 * Throws MODEL_MISSING (nothing readable at the path) or MODEL_INVALID (any other check).
 */
export async function loadClipTokenizer(gzPath: string = BUNDLED_CLIP_VOCAB_PATH): Promise<ClipTokenizer> {
  let raw: Buffer;
  try {
    raw = await readFile(gzPath);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'cannot be read (permission denied)'
            : `cannot be read (${code ?? (cause as Error).message})`;
    throw vocabError(ErrorCode.MODEL_MISSING, gzPath, problem, cause);
  }
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) {
    throw vocabError(
      ErrorCode.MODEL_INVALID,
      gzPath,
      'is not a gzip file (it should be bpe_simple_vocab_16e6.txt.gz)',
    );
  }
  let inflated: Buffer;
  try {
    inflated = gunzipSync(raw);
  } catch (cause) {
    throw vocabError(
      ErrorCode.MODEL_INVALID,
      gzPath,
      `is a damaged gzip file (${(cause as Error).message})`,
      cause,
    );
  }
  let tokenizer: ClipTokenizer;
  try {
    tokenizer = createClipTokenizer(inflated.toString('utf8'));
  } catch (cause) {
    throw vocabError(
      ErrorCode.MODEL_INVALID,
      gzPath,
      `does not hold CLIP's ${MERGE_COUNT} BPE merges (${(cause as Error).message})`,
      cause,
    );
  }
  const sha = createHash('sha256').update(inflated).digest('hex');
  if (sha !== CLIP_VOCAB_TEXT_SHA256) {
    throw vocabError(
      ErrorCode.MODEL_INVALID,
      gzPath,
      `is not CLIP's vocabulary (sha256 of its text is ${sha.slice(0, 12)}…, expected ${CLIP_VOCAB_TEXT_SHA256.slice(0, 12)}…)`,
    );
  }
  return tokenizer;
}
