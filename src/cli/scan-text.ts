import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { scanText } from '../analysis/text/tag-error-reports.ts';

/**
 * `loralens scan-text FILE.jsonl`: reads lines `{"id": …, "text": …}` and writes one JSON line per input
 * line: `{"id","flag","score","lang","evidence":[{"span","start","end"}]}`, or `{"id","error"}` when the
 * line is malformed (the rest go on). Blank lines are skipped.
 */

const InputLine = z.object({
  id: z.union([z.string(), z.number()]),
  text: z.string(),
});

function idOf(value: unknown): string | number | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
}

function errorSentence(lineNo: number, value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `Line ${lineNo} is not a JSON object.`;
  }
  const record = value as Record<string, unknown>;
  if (idOf(value) === null) return `Line ${lineNo} has no "id" (a string or a number).`;
  if (typeof record.text !== 'string') return `Line ${lineNo} has no "text" string.`;
  return `Line ${lineNo} is not a valid input line.`;
}

async function writeLine(output: NodeJS.WritableStream, value: unknown): Promise<void> {
  if (!output.write(`${JSON.stringify(value)}\n`)) await once(output, 'drain');
}

/** Scans every JSONL line of `input` and writes one result line per input line to `output`. */
export async function runScanText(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
): Promise<{ lines: number; errors: number }> {
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  let lines = 0;
  let errors = 0;
  for await (const raw of rl) {
    lineNo += 1;
    const line = raw.replace(/^\uFEFF/, '');
    if (line.trim().length === 0) continue;
    lines += 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      errors += 1;
      await writeLine(output, { id: null, error: `Line ${lineNo} is not valid JSON.` });
      continue;
    }
    const parsed = InputLine.safeParse(value);
    if (!parsed.success) {
      errors += 1;
      await writeLine(output, { id: idOf(value), error: errorSentence(lineNo, value) });
      continue;
    }
    const scan = scanText(parsed.data.text);
    await writeLine(output, {
      id: parsed.data.id,
      flag: scan.flag,
      score: scan.score,
      lang: scan.lang,
      evidence: scan.evidence.map((e) => ({ span: e.span, start: e.start, end: e.end })),
    });
  }
  return { lines, errors };
}
