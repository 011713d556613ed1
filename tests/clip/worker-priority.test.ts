import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureTinyClipModels } from '../../scripts/make-tiny-models.ts';
import { createClipScorer } from '../../src/analysis/clip/scorer.ts';
import { COMPUTE_THREAD_NICE_OFFSET } from '../../src/analysis/workers/priority.ts';

const VOCAB = fileURLToPath(new URL('../../assets/models/bpe_simple_vocab_16e6.txt.gz', import.meta.url));

/** Nice value of every thread of this process (Linux /proc/self/task/<tid>/stat, field 19). */
function threadNices(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the parenthesised name: state is field 3, nice is field 19.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(fields[16]));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

test('CLIP session workers and their onnxruntime threads run below the main thread’s priority', async () => {
  const { dir } = await ensureTinyClipModels();
  const before = threadNices();
  const mainNice = before.get(process.pid)!;
  const scorer = await createClipScorer({ modelDir: dir, vocabPath: VOCAB, intraOpThreads: 2 });
  try {
    await scorer.embedTexts(['a photo of a cat']);
    const after = threadNices();
    const lowered = [...after].filter(([tid, nice]) => !before.has(tid) && nice > mainNice);
    // Per tower: the worker thread and at least one intra-op pool thread it created (inherited nice).
    assert.ok(
      lowered.length >= 4,
      `threads below the main thread: ${JSON.stringify(lowered)} of ${JSON.stringify([...after])}`,
    );
    assert.ok(lowered.some(([, nice]) => nice === Math.min(19, mainNice + COMPUTE_THREAD_NICE_OFFSET)));
    assert.equal(after.get(process.pid), mainNice, 'the main thread’s priority changed');
  } finally {
    await scorer.dispose();
  }
});
