import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { silentLogger } from '../../src/analysis/ports.ts';
import { AuditRunner, jobKey } from '../../src/bot/audit-runner.ts';
import { ModelSearchCache } from '../../src/bot/autocomplete.ts';
import { createDispatcher } from '../../src/bot/dispatcher.ts';
import { commands } from '../../src/commands/index.ts';
import type { CommandDeps } from '../../src/commands/types.ts';
import { en } from '../../src/i18n/en.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { createFeedbackStore } from '../../src/storage/feedback-store.ts';
import { createJobQueueStore } from '../../src/storage/job-queue.ts';
import { createSubscriptionsStore } from '../../src/storage/subscriptions-store.ts';
import { FakeAuditService } from '../bot/support/fake-audit-service.ts';
import { ManualClock } from '../bot/support/manual-clock.ts';
import { FakeContext } from './support/fake-context.ts';

function deps(): CommandDeps & { service: FakeAuditService } {
  const storage = openStorage('memory://');
  const service = new FakeAuditService();
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  return {
    service,
    runner: new AuditRunner({
      service,
      store: createJobQueueStore(storage),
      clock,
      logger: silentLogger,
      concurrency: 1,
      restoreListener: () => ({ deliver: async () => {}, fail: async () => {} }),
    }),
    subscriptions: createSubscriptionsStore(storage),
    feedback: createFeedbackStore(storage, { disputeThreshold: 2 }),
    search: new ModelSearchCache({ service, clock, logger: silentLogger }),
    deliver: () => ({ deliver: async () => {}, fail: async () => {} }),
    scheduler: { changed: () => {} },
    clock,
    logger: silentLogger,
  };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(check(), 'condition not reached');
}

test('/audit model … reference: runs the audit with that model as the bias reference', async () => {
  const d = deps();
  const ctx = new FakeContext({
    commandName: 'audit',
    subcommand: 'model',
    options: { model: '1234', reference: 'https://civitai.com/models/4201/name' },
  });
  await createDispatcher(commands, d).handleCommand(ctx);
  await until(() => d.service.calls.length === 1);
  assert.deepEqual(d.service.calls[0]?.options.reference, {
    kind: 'model',
    ref: 'https://civitai.com/models/4201/name',
  });
});

test('/audit top without reference keeps the population reference', async () => {
  const d = deps();
  const ctx = new FakeContext({ commandName: 'audit', subcommand: 'top', options: { n: 3 } });
  await createDispatcher(commands, d).handleCommand(ctx);
  await until(() => d.service.calls.length === 1);
  assert.deepEqual(d.service.calls[0]?.options.reference, { kind: 'population' });
});

test('a reference that is not a model id or URL gets the model sentence and no job starts', async () => {
  const d = deps();
  const ctx = new FakeContext({
    commandName: 'audit',
    subcommand: 'top',
    options: { n: 3, reference: 'not a model' },
  });
  await createDispatcher(commands, d).handleCommand(ctx);
  assert.equal(ctx.soleReply().message?.content, en['input.badModelRef']);
  assert.equal(ctx.soleReply().message?.ephemeral, true);
  assert.equal(d.service.calls.length, 0);
});

test('the job key tells references apart and is unchanged without one', () => {
  const selection = { kind: 'model' as const, ref: '1234' };
  const old = createHash('sha256')
    .update(JSON.stringify({ selection: { kind: 'model', ref: '1234' }, maxBrowsingLevel: 2 }))
    .digest('hex')
    .slice(0, 24);
  assert.equal(jobKey(selection, 2), old);
  assert.notEqual(jobKey(selection, 2, { kind: 'model', ref: '4201' }), old);
  assert.notEqual(
    jobKey(selection, 2, { kind: 'model', ref: '4201' }),
    jobKey(selection, 2, { kind: 'model', ref: '4202' }),
  );
});

test('the /audit definition offers the optional reference option on both subcommands', () => {
  const audit = commands.find((c) => c.data.name === 'audit')?.data;
  for (const sub of audit?.options ?? []) {
    const options = 'options' in sub ? (sub.options ?? []) : [];
    const reference = options.find((o) => o.name === 'reference');
    assert.ok(reference, sub.name);
    assert.equal(reference.required, false);
  }
});
