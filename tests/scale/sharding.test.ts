import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ErrorCode, hasCode } from '../../src/analysis/errors.ts';
import { ownsGuild } from '../../src/bot/bot.ts';
import { parseShardCount } from '../../src/bot/sharding.ts';
import { APP_ID, TOKEN } from '../bot/support/harness.ts';
import { eventually, isCallback } from '../bot/support/helpers.ts';
import { startFakeDiscord } from '../support/fake-discord/server.ts';

const repoRoot = new URL('../../', import.meta.url).pathname;
// Snowflakes whose timestamp part is even / odd: Discord puts them on shard 0 / 1 of 2.
const GUILD_ON_0 = String(1_000_000_000_000n << 22n);
const GUILD_ON_1 = String(1_000_000_000_001n << 22n);

describe('sharding', () => {
  test('--shards accepts auto or a whole number; a guild belongs to shard (id >> 22) % count', () => {
    assert.equal(parseShardCount('auto'), 'auto');
    assert.equal(parseShardCount('3'), 3);
    for (const bad of ['0', '-1', '1.5', 'many'])
      assert.throws(
        () => parseShardCount(bad),
        (e) => hasCode(e, ErrorCode.CONFIG_INVALID),
      );
    const shard = (ids: number[], count: number) => ({ shard: { ids, count } }) as never;
    assert.equal(ownsGuild(shard([0], 2), GUILD_ON_0), true);
    assert.equal(ownsGuild(shard([0], 2), GUILD_ON_1), false);
    assert.equal(ownsGuild(shard([1], 2), GUILD_ON_1), true);
    assert.equal(ownsGuild(shard([1], 2), null), false, 'DM subscriptions run on shard 0');
    assert.equal(ownsGuild({ shard: null } as never, GUILD_ON_1), true, 'unsharded: every guild');
  });

  test('npm start -- --shards auto: asks /gateway/bot (2), runs two shard processes, each answers its own servers', async () => {
    const discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID, shards: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'loralens-shards-'));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/bot/main.ts', '--shards', 'auto', '--shard-delay', '0'],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH ?? '',
          DISCORD_TOKEN: TOKEN,
          DISCORD_APPLICATION_ID: APP_ID,
          DISCORD_API_URL: discord.apiUrl,
          LORALENS_STORE_URL: `sqlite://${join(dir, 'bot.sqlite')}`,
          LORALENS_MODELS_DIR: dir,
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await eventually(() => /loralens shards ready/.test(output), 90_000, `shards ready:\n${output}`);
      assert.ok(discord.requests.some((r) => r.method === 'GET' && r.path === '/gateway/bot'));
      assert.deepEqual(discord.gateway.identifies.map((i) => i.shard).sort(), [
        [0, 2],
        [1, 2],
      ]);
      for (const guildId of [GUILD_ON_0, GUILD_ON_1]) {
        const i = discord.invoke({ name: 'subscriptions', guildId });
        const cb = await discord.waitFor(isCallback(i), 20_000, `reply from the shard of ${guildId}`);
        assert.equal(cb.status, 204);
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output);
      assert.ok(!output.includes(TOKEN), 'token leaked into the logs');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await discord.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
