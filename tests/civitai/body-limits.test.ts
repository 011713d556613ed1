import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { collectRecords } from '../../src/analysis/audit/collect.ts';
import { CivitaiClient, DEFAULT_BODY_LIMITS } from '../../src/analysis/civitai/client.ts';
import { DEFAULT_CRAWL_OPTIONS } from '../../src/analysis/civitai/crawl.ts';
import { ERROR_BODY_BYTES } from '../../src/analysis/civitai/http.ts';
import { isAppError } from '../../src/analysis/errors.ts';
import { loadConfig } from '../../src/config.ts';
import { startCivitaiReplay } from '../support/civitai-replay.ts';
import { closeLocal, listenLocal } from '../support/local-server.ts';
import { needsShared } from '../support/requirements.ts';
import { sharedCatalogue } from '../support/shared-catalogue.ts';
import { testClient } from '../support/test-client.ts';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/**
 * A loopback server whose answers are `total` bytes of JSON-looking filler, streamed with
 * backpressure, so `sent` is what the client really pulled (plus socket buffers).
 */
function floodServer(opts: { total: number; declareLength: boolean; status?: number }) {
  const state = { sent: 0, requests: 0, closedEarly: 0 };
  const server: Server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    state.requests++;
    res.writeHead(opts.status ?? 200, {
      'content-type': 'application/json',
      ...(opts.declareLength ? { 'content-length': String(opts.total) } : {}),
    });
    let offset = 0;
    let closed = false;
    res.on('close', () => {
      if (offset < opts.total) state.closedEarly++;
      closed = true;
    });
    const chunk = Buffer.alloc(CHUNK, 0x20);
    chunk[0] = 0x5b; // '['
    const pump = (): void => {
      while (!closed && offset < opts.total) {
        const n = Math.min(CHUNK, opts.total - offset);
        offset += n;
        state.sent += n;
        if (!res.write(chunk.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      if (!closed) res.end();
    };
    pump();
  });
  return { server, state };
}

describe('HTTP body caps', () => {
  test('a chunked body growing past the cap is aborted there: CIVITAI_TOO_LARGE, not retried', async () => {
    const { server, state } = floodServer({ total: 256 * MiB, declareLength: false });
    const url = await listenLocal(server);
    const t = testClient(url);
    try {
      await assert.rejects(
        t.http.getJsonUnknown(`${url}/api/v1/models?limit=100`, { maxBodyBytes: 2 * MiB }),
        (e: unknown) =>
          isAppError(e) &&
          e.code === 'CIVITAI_TOO_LARGE' &&
          (e.details.bytesRead as number) > 2 * MiB &&
          (e.details.bytesRead as number) <= 2 * MiB + CHUNK,
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(state.requests, 1, 'not retried');
      assert.equal(state.closedEarly, 1, 'the client hung up before the end of the body');
      // What the server got to write: the cap plus what the socket buffers hold, far from 256 MiB.
      assert.ok(state.sent < 2 * MiB + 16 * MiB, `${state.sent} bytes sent`);
    } finally {
      await t.close();
      await closeLocal(server);
    }
  });

  test('a Content-Length over the cap is refused before the body is read', async () => {
    const { server, state } = floodServer({ total: 400 * MiB, declareLength: true });
    const url = await listenLocal(server);
    const t = testClient(url);
    try {
      await assert.rejects(
        t.http.getJsonUnknown(`${url}/api/v1/models/1`, { maxBodyBytes: 16 * MiB }),
        (e: unknown) =>
          isAppError(e) &&
          e.code === 'CIVITAI_TOO_LARGE' &&
          e.details.bytesRead === 0 &&
          e.details.declaredBytes === 400 * MiB &&
          /Civitai sent more than 16 MiB/.test(e.userMessage),
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(state.requests, 1);
      assert.ok(state.sent < 20 * MiB, `${state.sent} bytes sent`);
    } finally {
      await t.close();
      await closeLocal(server);
    }
  });

  test('an error answer is read only up to its message size, then reported by status', async () => {
    const { server, state } = floodServer({ total: 256 * MiB, declareLength: false, status: 404 });
    const url = await listenLocal(server);
    const t = testClient(url);
    try {
      await assert.rejects(
        t.http.getJsonUnknown(`${url}/api/v1/models/1`, { maxBodyBytes: 16 * MiB }),
        (e: unknown) => isAppError(e) && e.code === 'CIVITAI_NOT_FOUND',
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(state.sent < ERROR_BODY_BYTES + 16 * MiB, `${state.sent} bytes sent`);
    } finally {
      await t.close();
      await closeLocal(server);
    }
  });
});

describe('per-endpoint caps through the client', needsShared(), () => {
  const catalogue = sharedCatalogue(4);
  let replay: Awaited<ReturnType<typeof startCivitaiReplay>>;
  before(async () => {
    replay = await startCivitaiReplay({ catalogue });
  });
  after(() => replay.close());

  test('defaults are stated per endpoint, the listing the largest', () => {
    assert.equal(DEFAULT_BODY_LIMITS.listing, 64 * MiB);
    for (const v of Object.values(DEFAULT_BODY_LIMITS)) assert.ok(v <= DEFAULT_BODY_LIMITS.listing);
  });

  test('an images page over its cap is an upstream failure of that step: the crawl falls back and completes', async () => {
    const t = testClient(replay.url);
    const client = new CivitaiClient({ http: t.http, hasApiKey: false, bodyLimits: { images: 1024 } });
    try {
      const { records } = await collectRecords(
        { client },
        { kind: 'model', ref: '11821' },
        DEFAULT_CRAWL_OPTIONS,
      );
      const v = records[0]!.versions[0]!;
      assert.equal(v.imagesSource, 'version-api', 'fell back to the version endpoint');
      assert.ok(v.images.length > 0);
    } finally {
      await t.close();
    }
  });

  test('a model answer over its cap rejects with CIVITAI_TOO_LARGE', async () => {
    const t = testClient(replay.url);
    const client = new CivitaiClient({ http: t.http, hasApiKey: false, bodyLimits: { model: 2048 } });
    try {
      await assert.rejects(
        client.getModel(11821),
        (e: unknown) => isAppError(e) && e.code === 'CIVITAI_TOO_LARGE',
      );
    } finally {
      await t.close();
    }
  });

  test('CIVITAI_MAX_BODY_MB sets one cap for every endpoint; junk is a config error', () => {
    assert.equal(loadConfig({}).maxBodyBytes, undefined);
    assert.equal(loadConfig({ CIVITAI_MAX_BODY_MB: '8' }).maxBodyBytes, 8 * MiB);
    assert.throws(
      () => loadConfig({ CIVITAI_MAX_BODY_MB: 'lots' }),
      (e: unknown) => isAppError(e) && e.code === 'CONFIG_INVALID',
    );
  });
});
