import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  FIRST_RANGE_BYTES,
  parseHeaderFromPrefix,
  parseHeaderJson,
  parseHeaderLength,
  readLocalFile,
  readRemoteHeader,
} from '../../src/analysis/civitai/safetensors.ts';
import { isAppError } from '../../src/analysis/errors.ts';
import type { Catalogue } from '../support/catalogue.ts';
import { buildSafetensors, type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { closeLocal, listenLocal } from '../support/local-server.ts';
import { needsShared } from '../support/requirements.ts';
import { sharedCatalogue, sorakaMetadata } from '../support/shared-catalogue.ts';
import { testClient } from '../support/test-client.ts';

// The replay serves the recorded models in ../shared; without that folder its tests are skipped.
const shared = needsShared();
let catalogue: Catalogue;
let replay: CivitaiReplay;
before(async () => {
  if (shared.skip) return;
  catalogue = sharedCatalogue(4);
  replay = await startCivitaiReplay({ catalogue });
});
after(() => replay?.close());

const code = (c: string) => (e: unknown) => isAppError(e) && e.code === c;

describe('remote header over HTTP Range', shared, () => {
  test('one Range request after the 302 reads the real kohya metadata, not the file', async () => {
    const t = testClient(replay.url);
    const startBytes = replay.fileBytesSent();
    const start = replay.requests.length;
    const h = await readRemoteHeader(t.http, `${replay.url}/api/download/models/1448477`, {
      allowedHosts: [],
    });
    assert.equal(h.metadata?.ss_output_name, 'Soraka_Classic');
    assert.equal(h.tensorCount, 1);
    const storage = replay.requests.slice(start).filter((r) => r.path.startsWith('/storage/'));
    assert.deepEqual(
      storage.map((r) => r.headers.range),
      [`bytes=0-${FIRST_RANGE_BYTES - 1}`],
    );
    assert.equal(replay.requests.length - start, 2, 'the download endpoint (302) and one storage read');
    assert.ok(h.headerBytes < FIRST_RANGE_BYTES);
    assert.ok(replay.fileBytesSent() - startBytes <= FIRST_RANGE_BYTES, 'at most the first range travelled');
    assert.ok(storage.every((r) => r.headers.authorization === undefined));
    await t.close();
  });

  test('a host that ignores Range (200, whole body) is read only as far as needed, then aborted', async () => {
    const tensorBytes = 64 * 1024 * 1024;
    const r2 = await startCivitaiReplay({ catalogue, rangeMode: 'ignore', tensorBytes });
    const t = testClient(r2.url);
    const h = await readRemoteHeader(t.http, `${r2.url}/api/download/models/1448477`, { allowedHosts: [] });
    assert.equal(h.metadata?.ss_num_train_images, '460');
    // The server can only push what the socket buffers take before the client aborts.
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(r2.fileBytesSent() < tensorBytes / 4, `sent ${r2.fileBytesSent()} of ${tensorBytes}`);
    await t.close();
    await r2.close();
  });

  test('a redirect to a host that is not Civitai storage is refused', async () => {
    const r2 = await startCivitaiReplay({ catalogue, storageOrigin: 'http://localhost:9' });
    const t = testClient(r2.url);
    await assert.rejects(
      readRemoteHeader(t.http, `${r2.url}/api/download/models/1448477`, {
        allowedHosts: ['*.r2.cloudflarestorage.com'],
      }),
      code('HOST_NOT_ALLOWED'),
    );
    await t.close();
    await r2.close();
  });

  test('a version without metadata gives a header with metadata null', async () => {
    const t = testClient(replay.url);
    const h = await readRemoteHeader(t.http, `${replay.url}/api/download/models/13966`, { allowedHosts: [] });
    assert.equal(h.metadata, null);
    await t.close();
  });

  test('an unknown version is CIVITAI_NOT_FOUND', async () => {
    const t = testClient(replay.url);
    await assert.rejects(
      readRemoteHeader(t.http, `${replay.url}/api/download/models/1`, { allowedHosts: [] }),
      code('CIVITAI_NOT_FOUND'),
    );
    await t.close();
  });
});

/**
 * A storage host that answers `Range: bytes=a-b` with 206 and a Content-Range for the whole range,
 * but sends only `short(start, want)` bytes of it (no Content-Length, a clean end): a body cut short
 * without any transport error. `ignoreRange` answers 200 with the (shortened) file instead.
 */
async function shortRangeHost(
  file: Buffer,
  short: (start: number, want: number, attempt: number) => number,
  ignoreRange = false,
) {
  const ranges: string[] = [];
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    const range = req.headers.range ?? '';
    ranges.push(range);
    const attempt = seen.get(range) ?? 0;
    seen.set(range, attempt + 1);
    const m = /^bytes=(\d+)-(\d+)$/.exec(range);
    if (ignoreRange || !m) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(file.subarray(0, short(0, file.length, attempt)));
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), file.length - 1);
    const want = end - start + 1;
    res.writeHead(206, {
      'content-type': 'application/octet-stream',
      'content-range': `bytes ${start}-${end}/${file.length}`,
    });
    res.end(file.subarray(start, start + short(start, want, attempt)));
  });
  const url = await listenLocal(server);
  return { url, ranges, close: () => closeLocal(server) };
}

describe('short Range bodies with a clean end', () => {
  const file = buildSafetensors({ ss_output_name: 'short_read', ss_tag_frequency: '{}' }, 64);
  const longHeaderFile = buildSafetensors(
    { ss_output_name: 'long_header', ss_tag_frequency: 'x'.repeat(300_000) },
    64,
  );

  test('a 206 body shorter than the range is retried, and the retry reads the header', async (ctx) => {
    // The first answer to each range is half the bytes; the retry is whole.
    const host = await shortRangeHost(file, (_s, want, attempt) => (attempt === 0 ? want >> 1 : want));
    const t = testClient(host.url);
    ctx.after(async () => {
      await t.close();
      await host.close();
    });
    const h = await readRemoteHeader(t.http, `${host.url}/file.safetensors`, { allowedHosts: [] });
    assert.equal(h.metadata?.ss_output_name, 'short_read');
    assert.equal(host.ranges.length, 2, 'the one range was asked twice');
  });

  test('a 206 that stays short is a transport failure saying the read was incomplete, not an invalid file', async (ctx) => {
    for (const cutAt of ['length', 'json'] as const) {
      // 'json': a header longer than the first range, whose second range stays short.
      const source = cutAt === 'length' ? file : longHeaderFile;
      const host = await shortRangeHost(source, (start, want) =>
        (cutAt === 'length') === (start === 0) ? want >> 1 : want,
      );
      const t = testClient(host.url, { maxRetries: 2 });
      ctx.after(async () => {
        await t.close();
        await host.close();
      });
      await assert.rejects(
        readRemoteHeader(t.http, `${host.url}/file.safetensors`, { allowedHosts: [] }),
        (e: unknown) =>
          isAppError(e) &&
          e.code === 'NETWORK' &&
          /incomplete/.test(e.userMessage) &&
          /fail/.test(e.userMessage),
      );
      // 1 + 2 retries of the short range (and one whole first range when the JSON is cut).
      assert.equal(host.ranges.length, cutAt === 'length' ? 3 : 4, cutAt);
    }
  });

  test('a host that ignores Range and ends its 200 body before the header is complete is retried', async (ctx) => {
    const host = await shortRangeHost(file, (_s, want, attempt) => (attempt < 2 ? 20 : want), true);
    const t = testClient(host.url);
    ctx.after(async () => {
      await t.close();
      await host.close();
    });
    const h = await readRemoteHeader(t.http, `${host.url}/file.safetensors`, { allowedHosts: [] });
    assert.equal(h.metadata?.ss_output_name, 'short_read');
    assert.equal(host.ranges.length, 3);
  });

  test('a whole file shorter than its header says (Content-Range agrees) is still an invalid file', async (ctx) => {
    const tiny = file.subarray(0, 20);
    const host = await shortRangeHost(tiny, (_s, want) => want);
    const t = testClient(host.url);
    ctx.after(async () => {
      await t.close();
      await host.close();
    });
    await assert.rejects(
      readRemoteHeader(t.http, `${host.url}/file.safetensors`, { allowedHosts: [] }),
      code('SAFETENSORS_INVALID'),
    );
    assert.equal(host.ranges.length, 1, 'not retried');
  });

  test('a header longer than the first range costs exactly one more request, for the rest of it', async (ctx) => {
    const host = await shortRangeHost(longHeaderFile, (_s, want) => want);
    const t = testClient(host.url);
    ctx.after(async () => {
      await t.close();
      await host.close();
    });
    const h = await readRemoteHeader(t.http, `${host.url}/file.safetensors`, { allowedHosts: [] });
    assert.equal(h.metadata?.ss_output_name, 'long_header');
    assert.equal(h.metadata?.ss_tag_frequency?.length, 300_000);
    assert.ok(h.headerBytes > FIRST_RANGE_BYTES);
    assert.deepEqual(host.ranges, [
      `bytes=0-${FIRST_RANGE_BYTES - 1}`,
      `bytes=${FIRST_RANGE_BYTES}-${7 + h.headerBytes}`,
    ]);
  });

  test('a host that ignores Range answers the one request with the file, read only up to the header', async (ctx) => {
    const host = await shortRangeHost(longHeaderFile, (_s, want) => want, true);
    const t = testClient(host.url);
    ctx.after(async () => {
      await t.close();
      await host.close();
    });
    const h = await readRemoteHeader(t.http, `${host.url}/file.safetensors`, { allowedHosts: [] });
    assert.equal(h.metadata?.ss_output_name, 'long_header');
    assert.equal(host.ranges.length, 1);
  });
});

describe('header parsing', () => {
  test('a header length over the cap is SAFETENSORS_TOO_LARGE', () => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(200_000_000n);
    assert.throws(() => parseHeaderLength(b), code('SAFETENSORS_TOO_LARGE'));
    b.writeBigUInt64LE(2n ** 63n);
    assert.throws(() => parseHeaderLength(b), code('SAFETENSORS_TOO_LARGE'));
    assert.throws(() => parseHeaderLength(b, 1000), code('SAFETENSORS_TOO_LARGE'));
  });

  test('non-safetensors bodies are SAFETENSORS_INVALID', () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    assert.throws(
      () => parseHeaderFromPrefix(png),
      (e: unknown) => isAppError(e) && e.code.startsWith('SAFETENSORS_'),
    );
    const zip = Buffer.concat([
      Buffer.from([0x10, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from('PK\u0003\u0004 not json!!'),
    ]);
    assert.throws(() => parseHeaderFromPrefix(zip), code('SAFETENSORS_INVALID'));
    assert.throws(() => parseHeaderJson(Buffer.from('{"a": ')), code('SAFETENSORS_INVALID'));
    assert.throws(() => parseHeaderFromPrefix(Buffer.from([1, 2, 3])), code('SAFETENSORS_INVALID'));
  });

  test('space padding after the JSON is allowed', () => {
    const h = parseHeaderJson(Buffer.from('{"__metadata__":{"a":"1"}}    '));
    assert.deepEqual(h.metadata, { a: '1' });
  });
});

describe('local files', () => {
  test('SHA-256 over the whole file and the header from its start, in one pass', shared, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loralens-st-'));
    const file = buildSafetensors(sorakaMetadata(), 3 * 1024 * 1024);
    const path = join(dir, 'soraka.safetensors');
    writeFileSync(path, file);
    const info = await readLocalFile(path);
    assert.equal(info.sha256, createHash('sha256').update(file).digest('hex').toUpperCase());
    assert.equal(info.size, file.length);
    assert.equal(info.header.metadata?.ss_network_module, 'networks.lora');
  });

  test('a missing file is a user error', async () => {
    await assert.rejects(
      readLocalFile('/nonexistent/x.safetensors'),
      (e: unknown) => isAppError(e) && e.userFault,
    );
  });
});
