import { createInterface } from 'node:readline';
import { z } from 'zod';
import {
  BUNDLED_CLIP_VOCAB_PATH,
  type ClipTokenizer,
  loadClipTokenizer,
} from '../analysis/clip/tokenizer.ts';
import { AppError, isAppError, UserInputError } from '../analysis/errors.ts';

const lineSchema = z.object({ text: z.string() });

/** The CLIP vocabulary that ships with loralens (no download needed). */
export const DEFAULT_VOCAB_PATH = BUNDLED_CLIP_VOCAB_PATH;

/** Load the vocabulary; a failed check is the user's to fix (exit 2), with a hint on what to do. */
async function openTokenizer(vocabPath: string | undefined, bundled: string): Promise<ClipTokenizer> {
  try {
    return await loadClipTokenizer(vocabPath ?? bundled);
  } catch (error) {
    if (!isAppError(error) || (error.code !== 'MODEL_MISSING' && error.code !== 'MODEL_INVALID')) throw error;
    const hint =
      vocabPath === undefined
        ? ' It ships with loralens: restore assets/models from the package (e.g. `git checkout assets/models`).'
        : ' Pass --vocab a copy of bpe_simple_vocab_16e6.txt.gz, or leave --vocab out to use the one that ships with loralens.';
    throw new AppError(error.code, error.message, {
      cause: error,
      details: error.details,
      userMessage: `${error.userMessage}${hint}`,
      userFault: true,
    });
  }
}

/**
 * `loralens tokenize`: JSON lines `{"text": …}` on `input`, one JSON line
 * `{"ids": [77 ints], "n_tokens": int, "truncated": bool}` per input line on `output`, ids exactly as
 * CLIP's `tokenize(text, context_length=77, truncate=True)`; the prompt cleaner is not applied.
 * `n_tokens` counts the untruncated sequence including the start and end tokens, up to 602 (600 BPE ids);
 * a longer text is encoded only that far and its line also has `"n_tokens_capped": true` (`n_tokens` is
 * then a lower bound). A malformed line gets
 * `{"error": …}` in its place and, after all lines, INPUT_INVALID is thrown (exit 2). The vocabulary is
 * the shipped one unless `vocabPath` is given; MODEL_MISSING / MODEL_INVALID (user fault, exit 2) name the
 * check that failed and the path read.
 */
export async function runTokenize(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  options: {
    vocabPath?: string /** Where the shipped vocabulary is (tests). */;
    bundledVocabPath?: string;
  } = {},
): Promise<void> {
  const tokenizer = await openTokenizer(options.vocabPath, options.bundledVocabPath ?? DEFAULT_VOCAB_PATH);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const bad: number[] = [];
  let lineNo = 0;
  const write = async (obj: unknown): Promise<void> => {
    if (!output.write(`${JSON.stringify(obj)}\n`)) {
      await new Promise<void>((r) => output.once('drain', () => r()));
    }
  };
  for await (const line of lines) {
    lineNo += 1;
    if (line.trim() === '') continue;
    let parsed: z.infer<typeof lineSchema>;
    try {
      parsed = lineSchema.parse(JSON.parse(line));
    } catch {
      bad.push(lineNo);
      await write({ error: `line ${lineNo}: expected a JSON object with a string "text"` });
      continue;
    }
    const t = tokenizer.tokenize(parsed.text);
    await write({
      ids: t.ids,
      n_tokens: t.nTokens,
      truncated: t.truncated,
      ...(t.capped ? { n_tokens_capped: true } : {}),
    });
  }
  if (bad.length > 0) {
    throw new UserInputError(
      `${bad.length} input line(s) were not {"text": "..."} JSON (first: line ${bad[0]}).`,
      { lines: bad.slice(0, 20) },
    );
  }
}
