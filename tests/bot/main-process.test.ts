import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { type FakeDiscord, startFakeDiscord } from '../support/fake-discord/server.ts';
import { needsShared } from '../support/requirements.ts';
import { sharedCatalogue } from '../support/shared-catalogue.ts';
import { APP_ID, TOKEN } from './support/harness.ts';
import { embedsOf, finalEdit } from './support/helpers.ts';

const repoRoot = new URL('../../', import.meta.url).pathname;

describe('npm start (src/bot/main.ts) as a process', needsShared(), () => {
  let replay: CivitaiReplay;
  let discord: FakeDiscord;
  const dir = mkdtempSync(join(tmpdir(), 'loralens-main-'));
  before(async () => {
    replay = await startCivitaiReplay({ catalogue: sharedCatalogue(10) });
    discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID });
  });
  after(async () => {
    await discord.close();
    await replay.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('connects with the env config, answers /audit, and exits 0 on SIGTERM without logging the token', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/bot/main.ts'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        DISCORD_TOKEN: TOKEN,
        DISCORD_APPLICATION_ID: APP_ID,
        DISCORD_API_URL: discord.apiUrl,
        CIVITAI_BASE_URL: replay.url,
        CIVITAI_RATE_PER_SECOND: '200',
        LORALENS_STORE_URL: `sqlite://${join(dir, 'bot.sqlite')}`,
        LORALENS_MODELS_DIR: dir,
        LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await discord.ready(20_000);
      await new Promise((r) => setTimeout(r, 200));
      const i = discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '101892' } });
      const edit = await finalEdit(discord, i, 30_000);
      assert.equal(embedsOf(edit)[0]?.url, 'https://civitai.com/models/101892');
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output);
      assert.match(output, /shutdown requested/);
      assert.ok(!output.includes(TOKEN), 'token leaked into the logs');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
