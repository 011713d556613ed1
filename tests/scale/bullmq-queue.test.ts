import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { AuditResult } from '../../src/analysis/audit/service.ts';
import { AppError, ErrorCode, hasCode } from '../../src/analysis/errors.ts';
import { silentLogger } from '../../src/analysis/ports.ts';
import { BullAuditQueue, MAX_DELIVERY_ATTEMPTS } from '../../src/bot/bullmq-queue.ts';
import type { JobEvent, JobListener, JobRequest } from '../../src/commands/ports.ts';
import type { JobRequester } from '../../src/storage/job-queue.ts';
import { auditJobKey, decodeAuditResult, encodeAuditResult } from '../../src/storage/queue/audit-job.ts';
import { type AuditWorker, startAuditWorker } from '../../src/storage/queue/bullmq-worker.ts';
import { defaultResult, FakeAuditService } from '../bot/support/fake-audit-service.ts';
import { eventually } from '../bot/support/helpers.ts';
import type { RedisHandle } from '../support/redis-server.ts';
import { needsRedis } from '../support/requirements.ts';
import { flush, redisForTests } from './support/redis.ts';

interface Recorder extends JobListener {
  events: JobEvent[];
  results: AuditResult[];
  failures: unknown[];
}

function recorder(): Recorder {
  const r: Recorder = {
    events: [],
    results: [],
    failures: [],
    onEvent: (e) => {
      r.events.push(e);
    },
    deliver: async (result) => {
      r.results.push(result);
    },
    fail: async (error) => {
      r.failures.push(error);
    },
  };
  return r;
}

function requester(userId: string, overrides: Partial<JobRequester> = {}): JobRequester {
  return {
    kind: 'interaction',
    guildId: '300000000000000001',
    channelId: '400000000000000001',
    userId,
    locale: 'en-US',
    nsfw: false,
    ...overrides,
  };
}

const modelRequest = (ref: string, userId: string, listener: JobListener): JobRequest => ({
  selection: { kind: 'model', ref },
  maxBrowsingLevel: 2,
  requester: requester(userId),
  listener,
});

describe('BullMQ audit queue (bot side) with a worker on one Redis', needsRedis(), () => {
  let redis: RedisHandle;
  const open: Array<BullAuditQueue | AuditWorker> = [];
  const queue = (restored: Recorder[] = [], options = {}) => {
    const q = new BullAuditQueue({
      url: redis.url,
      logger: silentLogger,
      heartbeatTtlMs: 600,
      sweepIntervalMs: 100,
      restoreListener: () => {
        const r = recorder();
        restored.push(r);
        return r;
      },
      ...options,
    });
    open.push(q);
    return q;
  };
  const worker = (service: FakeAuditService) => {
    const w = startAuditWorker({
      url: redis.url,
      service,
      logger: silentLogger,
      concurrency: 2,
      lockDurationMs: 1_000,
      stalledIntervalMs: 500,
      progressIntervalMs: 0,
    });
    open.push(w);
    return w;
  };

  before(async () => {
    const handle = await redisForTests();
    assert.ok(handle);
    redis = handle;
  });
  beforeEach(async () => {
    for (const o of open.splice(0)) await ('stop' in o ? o.stop(0) : o.close());
    await flush(redis.url);
  });
  after(async () => {
    for (const o of open.splice(0)) await ('stop' in o ? o.stop(0) : o.close());
    await redis.stop();
  });

  test('identical requests collapse onto one job; every requester gets the result once, with progress', async () => {
    const service = new FakeAuditService();
    service.hold = true;
    service.progress = [{ stage: 'models', done: 1, total: 2 }];
    const q = queue();
    await q.start();
    const a = recorder();
    const b = recorder();
    const c = recorder();
    const first = await q.submit(modelRequest('101', 'u1', a));
    const second = await q.submit(modelRequest('101', 'u2', b));
    const other = await q.submit(modelRequest('202', 'u1', c));
    assert.ok(first.accepted && second.accepted && other.accepted);
    assert.equal(first.key, second.key);
    assert.equal(second.shared, true);
    assert.notEqual(other.key, first.key);
    worker(service);
    await service.started(2);
    await eventually(() => a.events.some((e) => e.type === 'progress'), 5_000, 'progress event');
    service.release();
    service.release();
    await eventually(() => a.results.length + b.results.length + c.results.length === 3, 10_000, 'results');
    assert.equal(service.calls.length, 2, 'one audit per distinct selection');
    assert.deepEqual(b.events.at(0), { type: 'joined' });
    assert.equal(a.results[0]?.models[0]?.modelId, 101);
    assert.equal(b.results[0]?.models[0]?.modelId, 101);
    assert.equal(c.results[0]?.models[0]?.modelId, 202);
    // Files travel as bytes.
    assert.deepEqual(
      a.results[0]?.files[0]?.data,
      defaultResult({ kind: 'model', ref: '101' }).files[0]?.data,
    );
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(a.results.length + b.results.length + c.results.length, 3, 'nobody delivered twice');
  });

  test('a user-fault failure is delivered as its own sentence and not retried; a transient one is retried', async () => {
    const service = new FakeAuditService();
    service.failWith = new AppError(ErrorCode.CIVITAI_NOT_FOUND, 'no model 9', {
      userMessage: 'That model does not exist on Civitai.',
      userFault: true,
    });
    const q = queue();
    await q.start();
    worker(service);
    const a = recorder();
    await q.submit(modelRequest('9', 'u1', a));
    await eventually(() => a.failures.length === 1, 10_000, 'failure');
    assert.ok(hasCode(a.failures[0], ErrorCode.CIVITAI_NOT_FOUND));
    assert.equal((a.failures[0] as AppError).userMessage, 'That model does not exist on Civitai.');
    assert.equal(service.calls.length, 1);

    const flaky = new FakeAuditService();
    let calls = 0;
    const realAudit = flaky.audit.bind(flaky);
    flaky.audit = async (...args) => {
      calls++;
      if (calls === 1) throw new AppError(ErrorCode.NETWORK, 'socket hang up');
      return realAudit(...args);
    };
    for (const o of open.splice(1)) await ('stop' in o ? o.stop(0) : o.close());
    worker(flaky);
    const b = recorder();
    await q.submit(modelRequest('10', 'u1', b));
    await eventually(() => b.results.length === 1, 15_000, 'result after a retry');
    assert.equal(calls, 2);
    assert.equal(b.failures.length, 0);
  });

  test('limits are shared through Redis: over the per-user cap a new audit is refused, a duplicate still joins', async () => {
    const q1 = queue([], { limits: { perUser: 1, perGuild: 10, total: 100 } });
    const q2 = queue([], { limits: { perUser: 1, perGuild: 10, total: 100 } });
    await Promise.all([q1.start(), q2.start()]);
    const first = await q1.submit(modelRequest('1', 'u1', recorder()));
    assert.ok(first.accepted);
    const refused = await q2.submit(modelRequest('2', 'u1', recorder()));
    assert.deepEqual(refused, { accepted: false, busy: { reason: 'user', limit: 1, position: 2 } });
    const joined = await q2.submit(modelRequest('1', 'u9', recorder()));
    assert.ok(joined.accepted && joined.shared);
  });

  test('a requester whose bot process died gets the result in its channel, exactly once, from one surviving bot', async () => {
    const service = new FakeAuditService();
    service.hold = true;
    const restoredA: Recorder[] = [];
    const restoredB: Recorder[] = [];
    const dead = queue();
    await dead.start();
    const lost = recorder();
    await dead.submit(modelRequest('7', 'u1', lost));
    // The process "dies": it stops watching without a word (no stop(): its heartbeat just expires).
    (dead as unknown as { redis: { disconnect(): void } }).redis.disconnect();
    await new Promise((r) => setTimeout(r, 50));
    const b1 = queue(restoredA);
    const b2 = queue(restoredB);
    await Promise.all([b1.start(), b2.start()]);
    worker(service);
    await service.started(1);
    service.release();
    await eventually(
      () =>
        restoredA.length + restoredB.length === 1 && [...restoredA, ...restoredB][0]?.results.length === 1,
      10_000,
      'channel delivery',
    );
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(restoredA.length + restoredB.length, 1, 'exactly one bot delivered');
    assert.equal(lost.results.length, 0);
  });

  test(`a delivery that throws is tried again by the sweep, with the same listener, until it succeeds (at most ${MAX_DELIVERY_ATTEMPTS} tries)`, async () => {
    const service = new FakeAuditService();
    const q = queue();
    await q.start();
    worker(service);
    let calls = 0;
    const flaky = recorder();
    const deliver = flaky.deliver;
    flaky.deliver = async (result) => {
      calls += 1;
      if (calls === 1) throw new Error('Discord answered 503');
      await deliver(result);
    };
    const hopeless = recorder();
    let hopelessCalls = 0;
    hopeless.deliver = async () => {
      hopelessCalls += 1;
      throw new Error('Discord answered 503');
    };
    await q.submit(modelRequest('21', 'u1', flaky));
    await q.submit(modelRequest('22', 'u2', hopeless));
    await eventually(() => flaky.results.length === 1, 10_000, 'the second try delivered');
    await eventually(() => hopelessCalls === MAX_DELIVERY_ATTEMPTS, 10_000, 'every try made');
    // Sweeps keep running (every 100 ms here): nothing more is delivered or tried.
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(calls, 2);
    assert.equal(flaky.results.length, 1);
    assert.equal(hopelessCalls, MAX_DELIVERY_ATTEMPTS);
    assert.deepEqual(await q.redis.smembers('loralens:audit:pending'), [], 'both jobs settled');
    assert.deepEqual(await q.redis.keys('loralens:audit:tries:*'), []);
  });

  test('keys depend on the selection and options, not on key order; results survive the JSON round trip', () => {
    const k1 = auditJobKey({ kind: 'model', ref: '5' }, { maxBrowsingLevel: 2, imagesPerVersion: 3 });
    const k2 = auditJobKey({ kind: 'model', ref: '5' }, { imagesPerVersion: 3, maxBrowsingLevel: 2 });
    const k3 = auditJobKey({ kind: 'model', ref: '5' }, { maxBrowsingLevel: 31, imagesPerVersion: 3 });
    assert.equal(k1, k2);
    assert.notEqual(k1, k3);
    const result = defaultResult({ kind: 'model', ref: '5' });
    const back = decodeAuditResult(encodeAuditResult(result));
    assert.deepEqual(back, result);
    assert.throws(
      () => decodeAuditResult('{"x":1}'),
      (e) => hasCode(e, ErrorCode.STORAGE_IO),
    );
  });
});
