/**
 * Child process for the long-input tests (tests/text/scan-linear.test.ts): builds one long input from a
 * repeated unit and runs one text pass over it, printing a one-line JSON summary. The tests run it with
 * a hard timeout, which a synchronous call in the test process itself could not have.
 */
import { clipCleanText } from '../../src/analysis/clip/text-clean.ts';
import { loadClipTokenizer } from '../../src/analysis/clip/tokenizer.ts';
import { normalizeForMatching } from '../../src/analysis/text/normalize.ts';
import { cleanPrompt } from '../../src/analysis/text/prompt-clean.ts';
import { scanText } from '../../src/analysis/text/tag-error-reports.ts';

export function longText(unit: string, chars: number): string {
  return unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
}

const PASSES: Record<string, (text: string) => unknown> = {
  // Between two words, so that a whitespace unit makes a run that is not at either end.
  'clip-text': (text) => ({ text: clipCleanText(`link ${text} end`) }),
  'clip-tokens': async (text) => {
    const tokenizer = await loadClipTokenizer();
    const t = tokenizer.tokenize(text);
    return { nTokens: t.nTokens, capped: t.capped, windows: tokenizer.windows(text).length };
  },
  scan: (text) => {
    const scan = scanText(text);
    return { flag: scan.flag, evidence: scan.evidence.length, lang: scan.lang };
  },
  clean: (text) => ({ length: cleanPrompt(text).text.length }),
  normalize: (text) => ({ length: normalizeForMatching(text).text.length }),
};

if (process.argv[1]?.endsWith('long-input.child.ts')) {
  const [pass = 'scan', unit = 'x', chars = '1000'] = process.argv.slice(2);
  const run = PASSES[pass];
  if (!run) throw new Error(`unknown pass ${pass}`);
  process.stdout.write(`${JSON.stringify(await run(longText(unit, Number(chars))))}\n`);
}
