import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { hasCode } from '../../src/analysis/errors.ts';
import {
  checkModelFile,
  downloadModelFile,
  ModelIntegrityError,
} from '../../src/analysis/models/downloader.ts';
import { loadModelManifest, type ModelFile } from '../../src/analysis/models/manifest.ts';
import type { ProgressEvent } from '../../src/analysis/ports.ts';
import { seededRandom } from '../../src/analysis/stats/random.ts';
import { closeLocal, listenLocal } from '../support/local-server.ts';
import { needsShared, sharedPath } from '../support/requirements.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const rng = seededRandom(11);
const blob = Buffer.from(Array.from({ length: 300_000 }, () => rng.int(256)));
const blobSha = createHash('sha256').update(blob).digest('hex');

let server: Server;
let origin: string;
const agent = new Agent();
let seen: IncomingHttpHeaders[] = [];
let cutNext = 0; // cut the next N responses after 100 000 bytes
let ignoreRange = false;

before(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/file' });
      res.end();
      return;
    }
    if (req.url !== '/file') {
      res.writeHead(404);
      res.end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && !ignoreRange ? Number(m[1]) : 0;
    const body = blob.subarray(start);
    const headers: Record<string, string | number> = {
      'content-length': body.length,
      'accept-ranges': 'bytes',
    };
    if (start > 0) headers['content-range'] = `bytes ${start}-${blob.length - 1}/${blob.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    if (cutNext > 0) {
      cutNext -= 1;
      res.write(body.subarray(0, 100_000), () => res.destroy());
      return;
    }
    res.end(body);
  });
  origin = await listenLocal(server);
});
after(async () => {
  await closeLocal(server);
  await agent.close();
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'loralens-models-'));
  seen = [];
  cutNext = 0;
  ignoreRange = false;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(over: Partial<ModelFile> = {}): ModelFile {
  return {
    id: 'test',
    file: 'model.onnx',
    url: `${origin}/file`,
    sha256: blobSha,
    size: blob.length,
    pinned: true,
    licence: 'test',
    groups: ['fp32'],
    inputs: [],
    outputs: [],
    ...over,
  };
}
const opts = () => ({ dir, dispatcher: agent, sleep: async () => {} });

describe('model downloader against a loopback server', () => {
  test('downloads, verifies sha256 and reports progress up to the full size', async () => {
    const events: ProgressEvent[] = [];
    const r = await downloadModelFile(entry(), { ...opts(), onProgress: (e) => events.push(e) });
    assert.equal(r.outcome, 'downloaded');
    assert.deepEqual(await readFile(join(dir, 'model.onnx')), blob);
    assert.equal(events.at(-1)!.done, blob.length);
    assert.ok(events.every((e, i) => i === 0 || e.done >= events[i - 1]!.done));
    assert.equal((await downloadModelFile(entry(), opts())).outcome, 'already-present');
  });

  test('resumes with a Range request after the connection is cut', async () => {
    cutNext = 2;
    const r = await downloadModelFile(entry(), opts());
    assert.equal(r.sha256, blobSha);
    // How many bytes survive a cut socket depends on the kernel; each retry must ask for the rest.
    const ranges = seen.map((h) => h.range ?? null);
    assert.equal(ranges.length, 3);
    assert.equal(ranges[0], null);
    const offsets = ranges.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r ?? '')?.[1]));
    assert.ok(offsets[0]! > 0 && offsets[1]! > offsets[0]!, `offsets ${offsets}`);
    assert.equal(existsSync(join(dir, 'model.onnx.part')), false);
  });

  test('resumes a .part file left by an earlier run', async () => {
    await writeFile(join(dir, 'model.onnx.part'), blob.subarray(0, 123_456));
    await downloadModelFile(entry(), opts());
    assert.equal(seen[0]!.range, 'bytes=123456-');
    assert.deepEqual(await readFile(join(dir, 'model.onnx')), blob);
  });

  test('a server that ignores Range makes the download restart from zero, still correct', async () => {
    ignoreRange = true;
    await writeFile(join(dir, 'model.onnx.part'), Buffer.alloc(5000, 7));
    const r = await downloadModelFile(entry(), opts());
    assert.equal(r.sha256, blobSha);
  });

  test('follows redirects', async () => {
    const r = await downloadModelFile(entry({ url: `${origin}/redirect` }), opts());
    assert.equal(r.outcome, 'downloaded');
  });

  test('a sha256 mismatch is a ModelIntegrityError (MODEL_INVALID) and nothing is kept', async () => {
    const bad = entry({ sha256: '0'.repeat(64) });
    await assert.rejects(
      downloadModelFile(bad, opts()),
      (e: unknown) =>
        e instanceof ModelIntegrityError && hasCode(e, 'MODEL_INVALID') && e.details.sha256 === blobSha,
    );
    assert.equal(existsSync(join(dir, 'model.onnx')), false);
    assert.equal(existsSync(join(dir, 'model.onnx.part')), false);
  });

  test('gives up with NETWORK after the retries', async () => {
    cutNext = 10;
    await assert.rejects(downloadModelFile(entry(), { ...opts(), maxRetries: 2 }), (e: unknown) =>
      hasCode(e, 'NETWORK'),
    );
  });

  test('an unpinned file is refused unless trusted on first use, which records its hash', async () => {
    const unpinned = entry({ sha256: null, pinned: false, size: null });
    await assert.rejects(downloadModelFile(unpinned, opts()), (e: unknown) => hasCode(e, 'MODEL_INVALID'));
    assert.equal((await checkModelFile(unpinned, dir)).status, 'missing');
    const r = await downloadModelFile(unpinned, { ...opts(), trustOnFirstUse: true });
    assert.equal(r.outcome, 'trusted-on-first-use');
    const lock = JSON.parse(await readFile(join(dir, 'trusted-hashes.json'), 'utf8'));
    assert.equal(lock.files['model.onnx'].sha256, blobSha);
    assert.equal((await checkModelFile(unpinned, dir)).status, 'ok');
    await writeFile(join(dir, 'model.onnx'), Buffer.from('tampered'));
    assert.equal((await checkModelFile(unpinned, dir)).status, 'sha256-mismatch');
  });

  test('check reports missing, size and hash mismatches', async () => {
    assert.equal((await checkModelFile(entry(), dir)).status, 'missing');
    await writeFile(join(dir, 'model.onnx'), blob.subarray(1));
    assert.equal((await checkModelFile(entry(), dir)).status, 'size-mismatch');
    const flipped = Buffer.from(blob);
    flipped[10] = flipped[10]! ^ 1;
    await writeFile(join(dir, 'model.onnx'), flipped);
    assert.equal((await checkModelFile(entry(), dir)).status, 'sha256-mismatch');
  });
});

describe('the shipped manifest', () => {
  test('parses, pins every file, and names the CLIP inputs/outputs the scorer checks', async () => {
    const m = await loadModelManifest(resolve(repoRoot, 'assets/models/manifest.json'));
    assert.ok(m.files.every((f) => f.pinned && f.sha256 && f.size && f.url.startsWith('https://')));
    const vision = m.files.find((f) => f.file === 'vision_model.onnx')!;
    assert.deepEqual(
      vision.inputs.map((i) => i.name),
      ['pixel_values'],
    );
    assert.deepEqual(
      vision.outputs.map((i) => i.name),
      ['image_embeds'],
    );
    const text = m.files.find((f) => f.file === 'text_model_quantized.onnx')!;
    assert.deepEqual(
      text.inputs.map((i) => i.name),
      ['input_ids'],
    );
    assert.deepEqual(
      text.outputs.map((i) => i.name),
      ['text_embeds'],
    );
  });

  test('the pinned vocabulary hash matches the shared copy of the file', needsShared(), async () => {
    const m = await loadModelManifest(resolve(repoRoot, 'assets/models/manifest.json'));
    const vocab = m.files.find((f) => f.file === 'bpe_simple_vocab_16e6.txt.gz')!;
    const bytes = await readFile(sharedPath(`models/clip-tokenizer/${vocab.file}`));
    assert.equal(bytes.length, vocab.size);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), vocab.sha256);
  });
});
