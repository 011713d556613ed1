/**
 * Child process for the long-input tests (tests/text/scan-linear.test.ts): builds one long text and
 * scans it, printing a one-line JSON summary. The tests run it with a hard timeout, which a synchronous
 * scan in the test process itself could not have.
 */
import { scanText } from '../../src/analysis/text/tag-error-reports.ts';

export const LONG_UNITS: Record<string, string> = {
  /** Dense reports in four scripts, no sentence punctuation at all. */
  mixed: 'wrong tags 标签错了 タグミス 태그 오류 ',
  /** English reports separated by clause words only. */
  clauses: 'the tags are wrong but the trigger word is off, ',
};

export function longText(kind: string, chars: number): string {
  const unit = LONG_UNITS[kind] ?? kind;
  return unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
}

if (process.argv[1]?.endsWith('long-scan.child.ts')) {
  const [kind = 'mixed', chars = '1000'] = process.argv.slice(2);
  const scan = scanText(longText(kind, Number(chars)));
  process.stdout.write(
    `${JSON.stringify({ flag: scan.flag, evidence: scan.evidence.length, lang: scan.lang })}\n`,
  );
}
