import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { APP_ID, TOKEN } from '../bot/support/harness.ts';
import { eventually, hasEmbeds, isOriginalEdit } from '../bot/support/helpers.ts';
import { type FakeDiscord, type FakeInteraction, startFakeDiscord } from '../support/fake-discord/server.ts';
import type { RedisHandle } from '../support/redis-server.ts';
import { needsRedis } from '../support/requirements.ts';
import { flush, redisForTests } from './support/redis.ts';

const repoRoot = new URL('../../', import.meta.url).pathname;

interface Proc {
  child: ChildProcess;
  output: string;
  ready: Promise<void>;
  exited: Promise<number | null>;
}

function start(script: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc: Proc = {
    child,
    output: '',
    ready: Promise.resolve(),
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  proc.ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready:\n${proc.output}`)), 60_000);
    const onData = (d: Buffer): void => {
      proc.output += d.toString();
      if (/^ready$/m.test(proc.output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => {
      proc.output += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!/^ready$/m.test(proc.output)) reject(new Error(`${script} exited ${code}:\n${proc.output}`));
    });
  });
  return proc;
}

/** Final replies of one interaction: report edits, error follow-ups, and channel posts mentioning its user. */
function finals(discord: FakeDiscord, i: FakeInteraction): number {
  return discord.requests.filter(
    (r) =>
      r.status < 300 &&
      ((isOriginalEdit(i)(r) && hasEmbeds(r)) ||
        (r.method === 'POST' &&
          r.path === `/channels/${i.channelId}/messages` &&
          hasEmbeds(r) &&
          String(r.body?.content).includes(`<@${i.userId}>`))),
  ).length;
}

const userId = (n: number) => String(500000000000000000n + BigInt(n));

describe('one bot process, two worker processes, one Redis', needsRedis(), () => {
  let redis: RedisHandle;
  let discord: FakeDiscord;
  const procs: Proc[] = [];
  before(async () => {
    const handle = await redisForTests();
    assert.ok(handle);
    redis = handle;
  });
  after(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await redis.stop();
  });

  const env = () => ({ REDIS_URL: redis.url, DISCORD_API_URL: discord.apiUrl, AUDIT_MS: '600' });
  const spawnAll = async (workerEnv: Record<string, string> = {}) => {
    const bot = start('tests/scale/support/bot-process.ts', env());
    const workers = [0, 1].map(() =>
      start('tests/scale/support/worker-process.ts', { ...env(), ...workerEnv }),
    );
    procs.push(bot, ...workers);
    await Promise.all([bot.ready, ...workers.map((w) => w.ready)]);
    return { bot, workers };
  };
  const invokeMany = (count: number): FakeInteraction[] =>
    Array.from({ length: count }, (_, n) =>
      discord.invoke({
        name: 'audit',
        subcommand: 'model',
        // 50 requests over 35 models: some collapse onto a shared job.
        options: { model: String(1000 + (n % 35)) },
        userId: userId(n),
      }),
    );
  const everyOneOnce = async (interactions: FakeInteraction[], label: string, live: Proc[]) => {
    // Generous: the point is exactly-once delivery, not speed (alone this takes ≈ 20 s; a loaded CI
    // machine running other test files beside it once took over 90 s).
    try {
      await eventually(() => interactions.every((i) => finals(discord, i) >= 1), 180_000, label);
    } catch {
      const missing = interactions.filter((i) => finals(discord, i) === 0).map((i) => i.userId);
      const tails = live.map(
        (p, k) => `--- process ${k} (exit ${p.child.exitCode}):\n${p.output.slice(-2_000)}`,
      );
      assert.fail(
        `${label}: ${missing.length} of ${interactions.length} interactions unanswered after 180 s (users ${missing.slice(0, 5).join(', ')}…)\n${tails.join('\n')}`,
      );
    }
    // Nothing arrives twice, even after retries and sweeps have had time to run again.
    await new Promise((r) => setTimeout(r, 2_500));
    const counts = interactions.map((i) => finals(discord, i));
    assert.deepEqual(
      counts.filter((c) => c !== 1),
      [],
      `${label}: exactly one final reply each (${counts.join(',')})`,
    );
  };

  test('50 /audit interactions; a worker SIGKILLed mid-job: its jobs are retried by the other, each interaction gets exactly one final reply', async () => {
    await flush(redis.url);
    discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID });
    try {
      const { bot, workers } = await spawnAll();
      await discord.ready(30_000);
      const interactions = invokeMany(50);
      const [victim, survivor] = workers;
      assert.ok(victim && survivor);
      await eventually(() => /^start /m.test(victim.output), 30_000, 'the victim starts a job');
      victim.child.kill('SIGKILL');
      await victim.exited;
      const killedMidJob = [...victim.output.matchAll(/^start (\d+)$/gm)]
        .map((m) => m[1])
        .filter((ref) => !new RegExp(`^done ${ref}$`, 'm').test(victim.output));
      assert.ok(killedMidJob.length > 0, 'the worker died with a job running');
      await everyOneOnce(interactions, 'worker killed', [bot, survivor]);
      for (const ref of killedMidJob)
        assert.match(survivor.output, new RegExp(`^done ${ref}$`, 'm'), `job ${ref} retried by the survivor`);
      bot.child.kill('SIGTERM');
      survivor.child.kill('SIGTERM');
      assert.equal(await bot.exited, 0, bot.output);
      assert.equal(await survivor.exited, 0, survivor.output);
    } finally {
      await discord.close();
    }
  });

  test('the bot process SIGKILLed and restarted while jobs run: results reach every requester exactly once', async () => {
    await flush(redis.url);
    discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID });
    const gate = join(mkdtempSync(join(tmpdir(), 'loralens-gate-')), 'open');
    try {
      const { bot, workers } = await spawnAll({ GATE_FILE: gate });
      await discord.ready(30_000);
      const interactions = invokeMany(50);
      // Every request accepted (its reply shows a queue line), jobs running in the workers: kill the bot.
      await eventually(
        () => interactions.every((i) => discord.requests.some(isOriginalEdit(i))),
        60_000,
        'every request queued',
      );
      await eventually(() => workers.every((w) => /^start /m.test(w.output)), 30_000, 'jobs running');
      bot.child.kill('SIGKILL');
      await bot.exited;
      const restarted = start('tests/scale/support/bot-process.ts', env());
      procs.push(restarted);
      await restarted.ready;
      writeFileSync(gate, '');
      await everyOneOnce(interactions, 'bot restarted', [restarted, ...workers]);
      // The dead bot's interactions are answered in their channel, with a mention.
      for (const i of interactions)
        assert.equal(discord.requests.filter((r) => isOriginalEdit(i)(r) && hasEmbeds(r)).length, 0);
      for (const p of [restarted, ...workers]) p.child.kill('SIGTERM');
      for (const p of [restarted, ...workers]) assert.equal(await p.exited, 0, p.output);
    } finally {
      await discord.close();
    }
  });
});
