import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTrainingAnalyzer } from '../../src/analysis/audit/training-analyzer.ts';
import type { AuditHooks, AuditRunOptions } from '../../src/analysis/audit/types.ts';
import { trainingFromHeader } from '../../src/analysis/civitai/crawl.ts';
import type { ModelRecord, TrainingHeader } from '../../src/analysis/civitai/record.ts';
import { blankRecord, blankVersion } from '../support/records.ts';

function record(id: number, training: TrainingHeader | null): ModelRecord {
  return blankRecord(id, {
    versions: [blankVersion(id * 10, { trainedWords: ['soraka'], triggerWords: ['soraka'], training })],
  });
}

test('a header read that failed is training_status=error with its reason, never "no training metadata"', async () => {
  const failed = record(1, {
    ...trainingFromHeader({ metadata: null, tensorCount: 0, headerBytes: 0 }, 7),
    status: 'error',
    reason:
      'Reading the model file header failed: the storage host ended its answer after 4 of 8 bytes, so the header read was incomplete.',
  });
  const none = record(2, trainingFromHeader({ metadata: null, tensorCount: 1, headerBytes: 100 }, 8));
  const out = await createTrainingAnalyzer().analyze([failed, none], {} as AuditHooks, {} as AuditRunOptions);
  const a = out.perModel.get(1);
  assert.equal(a?.flagged, null);
  assert.equal(a?.metrics.training_status, 'error');
  assert.match(a?.unmeasured ?? '', /could not be read: Reading the model file header failed/);
  assert.equal((a?.evidence as { headerStatus?: string } | undefined)?.headerStatus, 'error');
  const b = out.perModel.get(2);
  assert.equal(b?.metrics.training_status, 'no-training-metadata');
  assert.match(b?.unmeasured ?? '', /^no training tags: /);
});
