import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger, redactSecrets } from '../../src/app/logger.ts';
import { APP_ID, startHarness, TOKEN } from './support/harness.ts';
import { eventually, isOriginalEdit } from './support/helpers.ts';

/** A pino destination that keeps every line written. */
function captureLines(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  let rest = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = rest + chunk.toString('utf8');
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l.length > 0));
      done();
    },
  });
  return { stream, lines };
}

describe('log redaction', () => {
  test('a failing webhook edit logs neither the interaction token nor the bot token, in any line', async () => {
    const { stream, lines } = captureLines();
    const logger = createLogger('trace', [TOKEN], stream);
    const h = await startHarness({ logger });
    try {
      h.service.progress = [{ stage: 'fetching', done: 1, total: 3 }];
      // Every edit of the deferred reply fails (progress line and the final report).
      h.discord.setFault(({ method, path }) =>
        method === 'PATCH' && path.startsWith(`/webhooks/${APP_ID}/`)
          ? { status: 400, json: { message: 'Invalid Form Body', code: 50035 } }
          : null,
      );
      const i = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '11821' } });
      await h.discord.waitFor((r) => isOriginalEdit(i)(r) && r.status === 400, 5_000, 'a failed edit');
      await eventually(
        () => lines.some((l) => l.includes('delivering an audit result failed')),
        10_000,
        'the delivery failure to be logged',
      );
      const failures = lines.filter((l) => /"err"/.test(l));
      assert.ok(failures.length > 0, 'the failed edit was logged with its error');
      for (const line of lines) {
        assert.ok(!line.includes(i.token), `interaction token in: ${line}`);
        assert.ok(!line.includes(TOKEN), `bot token in: ${line}`);
      }
      assert.ok(
        failures.some((l) => l.includes(`/webhooks/${APP_ID}/[redacted]`)),
        'the URL stays readable, only the token is masked',
      );
    } finally {
      h.discord.setFault(null);
      await h.close();
    }
  });

  test('tokens are masked in URL paths, query strings, headers and nested causes at any depth', () => {
    const { stream, lines } = captureLines();
    const log = createLogger('info', ['bot-token-secret-value', 'civitai-key-123456'], stream);
    const inner = Object.assign(new Error('connect failed'), {
      url: 'https://discord.com/api/v10/interactions/1234567890/aW50ZXJhY3Rpb246dG9rZW4/callback',
      request: { headers: { Authorization: 'Bot bot-token-secret-value', 'X-Other': 'ok' } },
    });
    const outer = new Error('edit failed', { cause: inner });
    Object.assign(outer, {
      url: 'https://discord.com/api/v10/webhooks/1234567890/aW50ZXJhY3Rpb246dG9rZW4/messages/@original',
      download: 'https://civitai.com/api/download/models/1?type=Model&token=civitai-key-123456&x=1',
      deep: {
        a: { b: { c: { token: 'deep-secret-token-xyz', interactionToken: 'aW50ZXJhY3Rpb246dG9rZW4' } } },
      },
    });
    log.error(
      { err: outer, nested: { cause: inner }, headers: { authorization: 'Bearer abcdefghijklmnop' } },
      'failed',
    );
    log.info({ serialized: JSON.stringify({ token: 'deep-secret-token-xyz' }) }, 'serialized');
    log.info({}, 'key in message civitai-key-123456');
    assert.equal(lines.length, 3);
    const all = lines.join('\n');
    for (const secret of [
      'aW50ZXJhY3Rpb246dG9rZW4',
      'bot-token-secret-value',
      'civitai-key-123456',
      'deep-secret-token-xyz',
      'abcdefghijklmnop',
    ]) {
      assert.ok(!all.includes(secret), `${secret} leaked: ${all}`);
    }
    assert.match(all, /webhooks\/1234567890\/\[redacted\]\/messages\/@original/);
    assert.match(all, /interactions\/1234567890\/\[redacted\]\/callback/);
    assert.match(all, /type=Model&token=\[redacted\]&x=1/);
    assert.match(all, /X-Other/);
  });

  test('redactSecrets leaves ordinary text alone', () => {
    const text =
      'Bot configuration loaded; GET https://civitai.com/api/v1/models/42?limit=5 took 12 ms (token bucket empty)';
    assert.equal(redactSecrets(text, []), text);
  });
});
