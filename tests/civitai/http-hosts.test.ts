import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import { Agent } from 'undici';
import { HttpClient } from '../../src/analysis/civitai/http.ts';
import { createImageFetcher } from '../../src/analysis/images/fetch.ts';
import { closeLocal, listenLocal } from '../support/local-server.ts';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/**
 * A loopback host that holds every answer until `release()` (or answers after `delayMs`), and
 * records how many requests it saw and the most it had in flight at once.
 */
async function host(options: { hold?: boolean; delayMs?: number; body?: Buffer; type?: string } = {}) {
  const held: Array<() => void> = [];
  const stats = { seen: 0, inFlight: 0, maxInFlight: 0 };
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    stats.seen++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    const answer = (): void => {
      stats.inFlight--;
      res.writeHead(200, { 'content-type': options.type ?? 'application/json' });
      res.end(options.body ?? '{}');
    };
    if (options.hold) held.push(answer);
    else setTimeout(answer, options.delayMs ?? 0);
  });
  const url = await listenLocal(server);
  return {
    url,
    stats,
    release: () => {
      for (const a of held.splice(0)) a();
    },
    close: () => closeLocal(server),
  };
}

/** Resolve `p` or report that it did not settle while the other host was still held. */
function settledWithin<T>(p: Promise<T>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

describe('per-host request limits', () => {
  test('the Civitai API limit (1 at a time) does not hold back requests to another host', async (ctx) => {
    const api = await host({ hold: true });
    const storage = await host();
    const agent = new Agent({ connections: 8 });
    ctx.after(async () => {
      api.release();
      await agent.close();
      await api.close();
      await storage.close();
    });
    const http = new HttpClient({ dispatcher: agent, baseUrl: api.url, concurrency: 1, ratePerSecond: 1 });
    const apiCall = http.getJsonUnknown(`${api.url}/api/v1/models`);
    while (api.stats.seen === 0) await new Promise((r) => setImmediate(r));
    // The API slot is taken (and its answer withheld): storage reads must still go through.
    const reads = Promise.all([1, 2, 3].map((i) => http.getRaw(`${storage.url}/file/${i}`)));
    assert.equal(await settledWithin(reads, 5_000), true, 'storage reads waited for the API slot');
    assert.equal(storage.stats.seen, 3);
    api.release();
    await apiCall;
  });

  test('other hosts have their own concurrency limit per origin', async (ctx) => {
    const api = await host();
    const storage = await host({ delayMs: 30 });
    const agent = new Agent({ connections: 16 });
    ctx.after(async () => {
      await agent.close();
      await api.close();
      await storage.close();
    });
    const http = new HttpClient({
      dispatcher: agent,
      baseUrl: api.url,
      concurrency: 1,
      otherHosts: { concurrency: 3 },
    });
    await Promise.all(Array.from({ length: 9 }, (_, i) => http.getRaw(`${storage.url}/f/${i}`)));
    assert.equal(storage.stats.seen, 9);
    assert.equal(storage.stats.maxInFlight, 3);
  });

  test('image downloads have their own per-host concurrency, independent of the API client', async (ctx) => {
    const cdn = await host({ delayMs: 30, body: PNG, type: 'image/png' });
    const agent = new Agent({ connections: 16 });
    ctx.after(async () => {
      await agent.close();
      await cdn.close();
    });
    const fetcher = createImageFetcher({
      dispatcher: agent,
      extraAllowedOrigins: [cdn.url],
      concurrencyPerHost: 2,
    });
    const got = await Promise.all(
      Array.from({ length: 8 }, (_, i) => fetcher.fetch(`${cdn.url}/img/${i}.png`)),
    );
    assert.ok(got.every((g) => g.ok));
    assert.equal(cdn.stats.seen, 8);
    assert.equal(cdn.stats.maxInFlight, 2);
  });
});
