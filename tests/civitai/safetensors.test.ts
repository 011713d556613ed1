import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  parseHeaderFromPrefix,
  parseHeaderJson,
  parseHeaderLength,
  readLocalFile,
  readRemoteHeader,
} from '../../src/analysis/civitai/safetensors.ts';
import { isAppError } from '../../src/analysis/errors.ts';
import type { Catalogue } from '../support/catalogue.ts';
import { buildSafetensors, type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
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
  test('two Range requests after the 302 read the real kohya metadata, not the file', async () => {
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
      ['bytes=0-7', `bytes=8-${7 + h.headerBytes}`],
    );
    assert.ok(replay.fileBytesSent() - startBytes < 20_000, 'only the header travelled');
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
