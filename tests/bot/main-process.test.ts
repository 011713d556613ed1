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

/** Run `npm start`'s entry point with exactly this environment; resolves exit code and output. */
function startBot(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/bot/main.ts'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', LORALENS_STORE_URL: 'memory://', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

const JARGON = /expected|received|undefined|Invalid input|Invalid option|zod/i;

describe('npm start with a bad environment', () => {
  test('missing and invalid variables are all listed at once, each in plain words, exit 1', async () => {
    const r = await startBot({ LOG_LEVEL: 'loud', CIVITAI_BASE_URL: 'not a url' });
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0] ?? '', /^Invalid configuration \(4 problems\):$/);
    assert.match(r.stderr, /^- DISCORD_TOKEN is not set: the bot token from the Discord Developer Portal/m);
    assert.match(r.stderr, /^- DISCORD_APPLICATION_ID is not set: the application id/m);
    assert.match(r.stderr, /^- LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent\.$/m);
    assert.match(r.stderr, /^- CIVITAI_BASE_URL must be a URL such as https:\/\/civitai\.com\.?$/m);
    assert.doesNotMatch(r.stderr, JARGON);
    assert.equal(lines.length, 5, r.stderr);
  });

  test('a bad value is named without echoing it', async () => {
    const r = await startBot({ DISCORD_TOKEN: 'secret-token-value-123', DISCORD_APPLICATION_ID: 'abc' });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      'Invalid configuration: DISCORD_APPLICATION_ID must be a Discord id (17–20 digits).',
    );
    assert.ok(!r.stderr.includes('secret-token-value-123'));
  });

  test('an unreachable Discord is one sentence naming the host and the error, exit 1', async () => {
    const refused = await startBot({
      DISCORD_TOKEN: TOKEN,
      DISCORD_APPLICATION_ID: APP_ID,
      DISCORD_API_URL: 'http://127.0.0.1:9/api',
    });
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr.trim().split('\n').at(-1),
      'Cannot reach Discord at 127.0.0.1:9: the connection was refused (ECONNREFUSED).',
    );
    const unknown = await startBot({
      DISCORD_TOKEN: TOKEN,
      DISCORD_APPLICATION_ID: APP_ID,
      DISCORD_API_URL: 'http://discord.invalid/api',
    });
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr.trim().split('\n').at(-1),
      'Cannot reach Discord at discord.invalid: the host name does not resolve (ENOTFOUND).',
    );
    for (const r of [refused, unknown]) assert.ok(!r.stderr.includes(TOKEN), 'token leaked');
  });
});
