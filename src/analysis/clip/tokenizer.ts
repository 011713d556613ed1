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
/** Windows a prompt is covered with by default (the scorer's default too). */
export const CLIP_DEFAULT_MAX_WINDOWS = 8;
/** BPE ids `tokenize` reads a text for: `nTokens` is exact up to this many ids (8 windows of 75). */
export const CLIP_TOKENIZE_MAX_IDS = CLIP_DEFAULT_MAX_WINDOWS * (CLIP_CONTEXT_LENGTH - 2);
/**
 * Text read per BPE id wanted, on the first try (UTF-16 code units; prompts average 4 to 5, and a text
 * that gives fewer ids than wanted is read again with four times as much).
 */
const CHARS_PER_ID = 8;
/** Ids a prefix must give beyond those kept, so that a token cut at the end of the prefix is never kept. */
const ID_MARGIN = 16;

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
  /**
   * True when the text is longer than {@link CLIP_TOKENIZE_MAX_IDS} BPE ids and only a prefix of it was
   * cleaned and encoded: `nTokens` then counts that prefix only (a lower bound) and `truncated` is true.
   */
  capped: boolean;
}

/** The first BPE ids of a text, from cleaning and encoding only as much of it as they need. */
export interface ClipEncodedPrefix {
  /** All BPE ids of the text when `complete`, else exactly the first `maxIds`. */
  ids: number[];
  /** False when only a prefix of the text was read (it gives more than `maxIds` ids). */
  complete: boolean;
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
  /**
   * The first `maxIds` ids of `encode(text)` without encoding the whole text: a prefix cut at a line
   * break or space is read, growing until it gives `maxIds` ids with a margin (ids of a text that is
   * read whole are exactly `encode(text)`).
   */
  encodePrefix(text: string, maxIds: number): ClipEncodedPrefix;
  /**
   * Exactly `clip.tokenize(text, context_length, truncate=True)` for one text; `nTokens` is exact up to
   * {@link CLIP_TOKENIZE_MAX_IDS} ids (`capped` says when the text was longer).
   */
  tokenize(text: string, contextLength?: number): ClipTokenized;
  /**
   * Covers a long prompt with consecutive windows of `contextLength - 2` BPE ids (at least one window,
   * at most `maxWindows`); only as much text as those windows can need is cleaned and encoded.
   */
  windows(text: string, contextLength?: number, maxWindows?: number): ClipWindow[];
  decode(ids: readonly number[]): string;
}

/** Windows of `contextLength - 2` ids each over a prompt's BPE ids (one empty window for no ids). */
export function clipWindowsFromIds(
  bpeIds: readonly number[],
  contextLength: number = CLIP_CONTEXT_LENGTH,
  maxWindows: number = CLIP_DEFAULT_MAX_WINDOWS,
): ClipWindow[] {
  const size = contextLength - 2;
  const pad = (ids: number[]): number[] => {
    while (ids.length < contextLength) ids.push(0);
    return ids;
  };
  const result: ClipWindow[] = [];
  if (bpeIds.length === 0) result.push({ ids: pad([CLIP_SOT, CLIP_EOT]), start: 0 });
  for (let start = 0; start < bpeIds.length && result.length < maxWindows; start += size) {
    result.push({ ids: pad([CLIP_SOT, ...bpeIds.slice(start, start + size), CLIP_EOT]), start });
  }
  return result;
}

// Where a prefix may end: after a line break (ftfy repairs text line by line, so the lines before it
// are cleaned exactly as in the whole text), else before a space or tab; only in the last half of the
// budget, else at the budget itself (a run without either: the token cut there falls in the margin).
function prefixEnd(text: string, budget: number): number {
  const floor = budget >> 1;
  const newline = text.lastIndexOf('\n', budget - 1);
  if (newline >= floor) return newline + 1;
  for (let i = budget; i > floor; i--) {
    const ch = text.charCodeAt(i);
    if (ch === 0x20 || ch === 0x09) return i;
  }
  const before = text.charCodeAt(budget - 1);
  return before >= 0xd800 && before <= 0xdbff ? budget - 1 : budget;
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

  const encodePrefix = (text: string, maxIds: number): ClipEncodedPrefix => {
    const wanted = Math.max(0, Math.floor(maxIds));
    // Growing by four bounds the work at 4/3 of the last prefix read, however much of the text cleaning
    // removes (whitespace runs, control characters, entities).
    for (let budget = (wanted + ID_MARGIN) * CHARS_PER_ID; budget < text.length; budget *= 4) {
      const ids = encode(text.slice(0, prefixEnd(text, budget)));
      if (ids.length >= wanted + ID_MARGIN) return { ids: ids.slice(0, wanted), complete: false };
    }
    return { ids: encode(text), complete: true };
  };

  return {
    encode,
    encodePrefix,
    tokenize(text, contextLength = CLIP_CONTEXT_LENGTH) {
      const prefix = encodePrefix(text, Math.max(CLIP_TOKENIZE_MAX_IDS, contextLength - 1));
      const tokens = [CLIP_SOT, ...prefix.ids, CLIP_EOT];
      const nTokens = tokens.length;
      const truncated = nTokens > contextLength;
      const kept = truncated ? tokens.slice(0, contextLength) : tokens;
      if (truncated) kept[contextLength - 1] = CLIP_EOT;
      while (kept.length < contextLength) kept.push(0);
      return { ids: kept, nTokens, truncated, capped: !prefix.complete };
    },
    windows(text, contextLength = CLIP_CONTEXT_LENGTH, maxWindows = CLIP_DEFAULT_MAX_WINDOWS) {
      const { ids } = encodePrefix(text, maxWindows * (contextLength - 2));
      return clipWindowsFromIds(ids, contextLength, maxWindows);
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
