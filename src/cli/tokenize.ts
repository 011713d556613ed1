import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CLIP_VOCAB_FILE } from '../analysis/clip/scorer.ts';
import { loadClipTokenizer } from '../analysis/clip/tokenizer.ts';
import { UserInputError } from '../analysis/errors.ts';

const lineSchema = z.object({ text: z.string() });

/** Where `npm run models` puts the CLIP vocabulary. */
export const DEFAULT_VOCAB_PATH = fileURLToPath(
  new URL(`../../assets/models/${CLIP_VOCAB_FILE}`, import.meta.url),
);

/**
 * `loralens tokenize`: JSON lines `{"text": …}` on `input`, one JSON line
 * `{"ids": [77 ints], "n_tokens": int, "truncated": bool}` per input line on `output`, ids exactly as
 * CLIP's `tokenize(text, context_length=77, truncate=True)`; the prompt cleaner is not applied.
 * `n_tokens` counts the untruncated sequence including the start and end tokens. A malformed line gets
 * `{"error": …}` in its place and, after all lines, INPUT_INVALID is thrown (exit 2). Throws MODEL_MISSING
 * when the vocabulary is absent.
 */
export async function runTokenize(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  options: { vocabPath?: string } = {},
): Promise<void> {
  const tokenizer = await loadClipTokenizer(options.vocabPath ?? DEFAULT_VOCAB_PATH);
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
    await write({ ids: t.ids, n_tokens: t.nTokens, truncated: t.truncated });
  }
  if (bad.length > 0) {
    throw new UserInputError(
      `${bad.length} input line(s) were not {"text": "..."} JSON (first: line ${bad[0]}).`,
      { lines: bad.slice(0, 20) },
    );
  }
}
