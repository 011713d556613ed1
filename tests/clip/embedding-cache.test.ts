import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { imageEmbeddingKey, textEmbeddingKey } from '../../src/analysis/clip/embedding-cache.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { keyvEmbeddingCache } from '../../src/storage/embedding-cache.ts';

const sample = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i) / 3);

describe('Keyv embedding cache', () => {
  for (const kind of ['memory', 'sqlite'] as const) {
    test(`${kind}: a stored embedding comes back bit-identical; unknown keys are undefined`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'loralens-emb-'));
      const storage = openStorage(kind === 'memory' ? 'memory://' : `sqlite://${join(dir, 'c.sqlite')}`);
      try {
        const cache = keyvEmbeddingCache(storage.keyv('clip-embeddings'));
        const key = imageEmbeddingKey('https://image.civitai.com/a/b/width=512/1.jpeg', 'm:fp32');
        await cache.set(key, sample);
        assert.deepEqual(await cache.get(key), sample);
        assert.equal(
          await cache.get(imageEmbeddingKey('https://image.civitai.com/other', 'm:fp32')),
          undefined,
        );
      } finally {
        await storage.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  test('a corrupted entry reads back as a miss, not as garbage', async () => {
    const storage = openStorage('memory://');
    const keyv = storage.keyv('clip-embeddings');
    const cache = keyvEmbeddingCache(keyv);
    await keyv.set('v1:k', { dim: 512, b64: 'AAAA' });
    assert.equal(await cache.get('k'), undefined);
    await keyv.set('v1:k2', 'not an object');
    assert.equal(await cache.get('k2'), undefined);
    await storage.close();
  });

  test('keys separate models, URLs and prompts', () => {
    assert.notEqual(imageEmbeddingKey('u', 'a'), imageEmbeddingKey('u', 'b'));
    assert.notEqual(imageEmbeddingKey('u', 'a'), imageEmbeddingKey('v', 'a'));
    assert.notEqual(textEmbeddingKey('u', 'a'), imageEmbeddingKey('u', 'a'));
  });
});
