import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultSerialize } from '@keyv/serialize';
import KeyvSqlite from '@keyv/sqlite';
import { Keyv } from 'keyv';
import { z } from 'zod';
import { openStorage } from '../../src/storage/backend.ts';
import { deserializeEntry, ENTRY_TAG, serializeEntry } from '../../src/storage/codec.ts';
import {
  imageFeatureKey,
  keyvImageFeatureCache,
  packNumbers,
  unpackNumbers,
} from '../../src/storage/image-feature-cache.ts';
import { typedStore } from '../../src/storage/typed-store.ts';
import { forEachBackend } from '../support/storage-contract.ts';

const tempFile = (): string => join(mkdtempSync(join(tmpdir(), 'loralens-codec-')), 's.sqlite');

test('entries are plain JSON behind the tag, and entries in Keyv’s own format still read', () => {
  const entry = { value: { s: ':starts with a colon', n: [1, 2.5], nested: { x: null } }, expires: 5 };
  const text = serializeEntry(entry);
  assert.ok(text.startsWith(ENTRY_TAG));
  assert.deepEqual(JSON.parse(text.slice(ENTRY_TAG.length)), entry);
  assert.deepEqual(deserializeEntry(text), entry);
  // Written by Keyv's default codec (every store made before this one): ':'-strings were escaped.
  const legacy = defaultSerialize(entry);
  assert.ok(legacy.startsWith('{'));
  assert.ok(legacy.includes('"::starts'), 'the old codec escaped the colon');
  assert.deepEqual(deserializeEntry(legacy), entry);
});

test('a sqlite store written by Keyv’s default codec reads back unchanged through openStorage', async () => {
  const file = tempFile();
  const old = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${file}` }), namespace: 'model-records' });
  await old.set('v3:1:plain', { name: ':colon', tags: ['a', 'b'], n: 3 });
  await old.disconnect();
  const storage = openStorage(`sqlite://${file}`);
  try {
    const store = typedStore(
      storage.keyv('model-records'),
      z.object({ name: z.string(), tags: z.array(z.string()), n: z.number() }),
      3,
    );
    assert.deepEqual(await store.get('1:plain'), { name: ':colon', tags: ['a', 'b'], n: 3 });
    // Rewritten in the new format, it still reads the same.
    await store.set('1:plain', { name: ':colon', tags: [], n: 4 });
    assert.deepEqual(await store.get('1:plain'), { name: ':colon', tags: [], n: 4 });
  } finally {
    await storage.close();
  }
});

test('sqlite stores use write-ahead logging and leave no -wal file once closed', async () => {
  const file = tempFile();
  const storage = openStorage(`sqlite://${file}`);
  // Several namespaces = several connections to the one file, as in an audit.
  for (const ns of ['a', 'b', 'c', 'd']) await storage.keyv(ns).set('k', { ns });
  const store = storage.keyv('a').store as KeyvSqlite;
  const [mode] = (await store.query('PRAGMA journal_mode')) as Array<{ journal_mode: string }>;
  assert.equal(mode?.journal_mode, 'wal');
  const [sync] = (await store.query('PRAGMA synchronous')) as Array<{ synchronous: number }>;
  assert.equal(sync?.synchronous, 1, 'synchronous=NORMAL on the connection');
  assert.ok(existsSync(`${file}-wal`), 'the log exists while the store is open');
  await storage.close();
  assert.equal(existsSync(`${file}-wal`), false, 'the last connection to close checkpointed the log');
  // Everything written is in the file itself.
  const again = openStorage(`sqlite://${file}`);
  try {
    for (const ns of ['a', 'b', 'c', 'd']) assert.deepEqual(await again.keyv(ns).get('k'), { ns });
  } finally {
    await again.close();
    rmSync(file, { force: true });
  }
});

test('long numeric arrays pack losslessly: float32 bytes when exact, float64 otherwise', () => {
  const f32 = Array.from(new Float32Array(Array.from({ length: 512 }, (_, i) => Math.sin(i) / 7)));
  const f64 = Array.from({ length: 40 }, (_, i) => Math.cos(i) / 3);
  const value = {
    clip: f32,
    colour: { hue: f64, satMean: 0.25, warmCoolRatio: null },
    faces: { faces: [{ box: [1, 2, 3, 4], score: 0.9 }], detectors: ['yunet'] },
    short: [1, 2, 3],
    negZero: [...Array.from({ length: 15 }, () => 1), -0],
    nonFinite: [...Array.from({ length: 20 }, () => 1), Number.NaN],
  };
  const packed = packNumbers(value) as Record<string, unknown>;
  assert.deepEqual(Object.keys(packed.clip as object), ['$f32']);
  assert.deepEqual(Object.keys((packed.colour as { hue: object }).hue), ['$f64']);
  assert.deepEqual(packed.short, [1, 2, 3], 'short arrays stay JSON');
  assert.ok(Array.isArray(packed.nonFinite), 'an array with NaN is left to JSON, as before');
  // JSON's round trip is the one the store makes.
  const back = unpackNumbers(JSON.parse(JSON.stringify(packed))) as typeof value;
  assert.deepEqual(back.clip, f32);
  assert.ok(
    back.clip.every((v, i) => Object.is(v, f32[i])),
    'bit-exact float32 values',
  );
  assert.ok(
    back.colour.hue.every((v, i) => Object.is(v, f64[i])),
    'bit-exact float64 values',
  );
  assert.ok(Object.is(back.negZero.at(-1), -0), '−0 survives');
  assert.deepEqual(back.faces, value.faces);
  const packedText = JSON.stringify(packed.clip).length;
  assert.ok(packedText < JSON.stringify(f32).length / 3, `512 floats: ${packedText} characters packed`);
  // A corrupt packed array reads as missing, never as wrong numbers.
  assert.equal(unpackNumbers({ clip: { $f32: 'AAA' } }), undefined);
});

forEachBackend('image feature cache, packed', (storage) => {
  test('values round-trip packed; one getMany reads many images and extractors in order', async () => {
    const keyv = storage().keyv(`features-${Date.now()}-${Math.random()}`);
    const cache = keyvImageFeatureCache(keyv);
    const embedding = Array.from(new Float32Array(Array.from({ length: 64 }, (_, i) => i / 64 - 0.3)));
    await cache.set('https://x/a.jpeg', 'clip', 'm1', embedding);
    await cache.set('https://x/a.jpeg', 'size', '1', { width: 3, height: 4 });
    await cache.set(
      'https://x/b.jpeg',
      'clip',
      'm1',
      embedding.map((v) => -v),
    );
    const got = await cache.getMany([
      { url: 'https://x/b.jpeg', extractor: 'clip', version: 'm1' },
      { url: 'https://x/a.jpeg', extractor: 'size', version: '1' },
      { url: 'https://x/a.jpeg', extractor: 'clip', version: 'm2' },
      { url: 'https://x/c.jpeg', extractor: 'clip', version: 'm1' },
      { url: 'https://x/a.jpeg', extractor: 'clip', version: 'm1' },
    ]);
    assert.deepEqual(got, [
      embedding.map((v) => -v),
      { width: 3, height: 4 },
      undefined,
      undefined,
      embedding,
    ]);
    // Stored packed: the raw entry holds base64 bytes, not 64 numbers.
    const raw = (await keyv.get(`v1:${imageFeatureKey('https://x/a.jpeg', 'clip', 'm1')}`)) as {
      packed?: number;
      value: unknown;
    };
    assert.equal(raw.packed, 1);
    assert.deepEqual(Object.keys(raw.value as object), ['$f32']);
  });

  test('entries written before packing (no flag) read as they are', async () => {
    const keyv = storage().keyv(`features-legacy-${Date.now()}-${Math.random()}`);
    const old = Array.from({ length: 20 }, (_, i) => i / 3);
    await keyv.set(`v1:${imageFeatureKey('https://x/a.jpeg', 'clip', 'm1')}`, {
      extractor: 'clip',
      version: 'm1',
      value: old,
    });
    const cache = keyvImageFeatureCache(keyv);
    assert.deepEqual(await cache.get('https://x/a.jpeg', 'clip', 'm1'), old);
    assert.deepEqual(await cache.getMany([{ url: 'https://x/a.jpeg', extractor: 'clip', version: 'm1' }]), [
      old,
    ]);
  });
});
