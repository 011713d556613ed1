/**
 * One text through the detector model, as the evidence the rest of loralens reads: the calibrated
 * score, the language, and the sentence that carried the decision with the features that fired
 * there (frames by name, n-grams quoted) — so every flag can be explained in an embed.
 */
import { originalRange } from '../normalize.ts';
import { type DetectorModel, explainWithModel, scoreWithModel } from './model.ts';

export interface DetectorEvidence {
  span: string;
  start: number;
  end: number;
  context: string;
  score: number;
  rule: string;
  cues: string[];
}

export interface DetectorScan {
  score: number;
  lang: string;
  evidence: DetectorEvidence[];
}

/** Longest evidence span kept (a long sentence is cut around its strongest feature). */
export const MAX_SPAN_CHARS = 240;
const CONTEXT_CHARS = 60;

const FRAME_NAMES: Record<string, string> = {
  error: 'error word',
  malfunction: 'malfunction',
  mismatch: 'mismatch',
  correction: 'correction',
  leak: 'leak / baked in',
  wrongOutput: 'wrong output',
  mixup: 'mix-up',
  inconsistent: 'inconsistent spelling / version',
  frequency: 'tag frequencies',
  admit: 'author admits',
  ownMistake: "writer's own mistake",
  otherModel: 'other models',
  ownDataset: 'own dataset / auto-tagger',
  instruction: 'instruction',
  fixed: 'already fixed',
  negation: 'negation',
  praise: 'praise',
  report: 'report',
  report2: 'several report cues',
};

/** A readable name of a feature: `entity + malfunction`, `"不起作用"`, `question`. */
export function describeFeature(name: string): string {
  const [kind, rest = ''] = [name.slice(0, 2), name.slice(2)];
  if (kind === 'c:' || kind === 'w:') return `"${rest.trim()}"`;
  if (kind === 'n:') {
    const [, b = ''] = rest.split('+');
    return `tag/trigger + ${FRAME_NAMES[b] ?? b} (next sentence)`;
  }
  if (kind === 's:') {
    if (rest === 'entity?' || rest === 'report?')
      return `question about a ${rest === 'entity?' ? 'tag' : 'report'}`;
    const [a = '', b = ''] = rest.split('+');
    return `${a === 'entity' ? 'tag/trigger' : (FRAME_NAMES[a] ?? a)} + ${FRAME_NAMES[b] ?? b}`;
  }
  if (kind === 'f:') return FRAME_NAMES[rest] ?? rest;
  if (name === 'x:tag-like') return 'quoted tag';
  if (name === 'x:version') return 'version named';
  if (name === 'x:question') return 'question';
  return name;
}

/**
 * Scores `text` and returns the evidence sentence when the score reaches `minEvidenceScore`.
 * `rule` names the strongest positive feature of that sentence (`model:tag/trigger + malfunction`);
 * `cues` name the features there that lowered the score.
 */
export function scanWithModel(model: DetectorModel, text: string, minEvidenceScore: number): DetectorScan {
  // Score first; only a text with evidence to show is explained (most comments are not).
  const scored = scoreWithModel(model, text, false);
  const { features } = scored;
  const score = Math.round(scored.score * 10000) / 10000;
  if (scored.score < minEvidenceScore) return { score, lang: features.lang, evidence: [] };
  const result = explainWithModel(model, scored);
  if (result.bestSentence < 0) {
    return { score, lang: features.lang, evidence: [] };
  }
  const sentence = features.sentences[result.bestSentence] ?? { start: 0, end: features.norm.text.length };
  let nStart = sentence.start;
  let nEnd = sentence.end;
  // Trim white space and closing marks at the edges of the normalised sentence.
  while (nStart < nEnd && /\s/u.test(features.norm.text[nStart]!)) nStart++;
  while (nEnd > nStart && /\s/u.test(features.norm.text[nEnd - 1]!)) nEnd--;
  let { start, end } = originalRange(features.norm, nStart, nEnd);
  if (end - start > MAX_SPAN_CHARS) {
    // Keep the sentence's end (where reports usually land) and start at a word boundary.
    start = end - MAX_SPAN_CHARS;
    const space = text.slice(start, start + 30).search(/\s/u);
    if (space >= 0) start += space + 1;
  }
  const positives = result.explanation.filter((c) => c.value > 0);
  const strongestFrame = positives.find((c) => /^[snf]:/.test(c.feature));
  const strongest = strongestFrame ?? positives[0];
  const cues = result.explanation
    .filter((c) => c.value < 0 && /^[snf]:/.test(c.feature))
    .slice(0, 4)
    .map((c) => describeFeature(c.feature));
  return {
    score,
    lang: features.lang,
    evidence: [
      {
        span: text.slice(start, end),
        start,
        end,
        context: text.slice(Math.max(0, start - CONTEXT_CHARS), Math.min(text.length, end + CONTEXT_CHARS)),
        score,
        rule: `model:${strongest ? describeFeature(strongest.feature) : 'text'}`,
        cues,
      },
    ],
  };
}
