import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Agent } from 'undici';
import { hasCode } from '../../src/analysis/errors.ts';
import { clipModelAvailability } from '../../src/analysis/models/availability.ts';
import { runModels } from '../../src/cli/models.ts';
import { runTokenize } from '../../src/cli/tokenize.ts';
import { closeLocal, listenLocal } from '../support/local-server.ts';
import { needsShared, SHARED_DIR, skipIfMissing } from '../support/requirements.ts';

// The real vocabulary lives in ../shared; without that folder the tests that need it are skipped.
const shared = needsShared();
const VOCAB = `${SHARED_DIR}models/clip-tokenizer/bpe_simple_vocab_16e6.txt.gz`;

async function tokenize(input: string): Promise<{ lines: unknown[]; error: unknown }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  let error: unknown = null;
  await runTokenize(Readable.from([input]), out, { vocabPath: VOCAB }).catch((e: unknown) => {
    error = e;
  });
  const lines = Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as unknown);
  return { lines, error };
}

describe('loralens tokenize', () => {
  test('one JSON line per input with 77 ids, n_tokens and truncated', shared, async () => {
    const { lines, error } = await tokenize(
      `{"text":"a photo of a cat"}\n{"text":"${'cat '.repeat(100)}"}\n`,
    );
    assert.equal(error, null);
    assert.equal(lines.length, 2);
    const [a, b] = lines as Array<{ ids: number[]; n_tokens: number; truncated: boolean }>;
    assert.deepEqual(a!.ids.slice(0, 8), [49406, 320, 1125, 539, 320, 2368, 49407, 0]);
    assert.equal(a!.ids.length, 77);
    assert.equal(a!.n_tokens, 7);
    assert.equal(a!.truncated, false);
    assert.equal(b!.truncated, true);
    assert.equal(b!.n_tokens, 102);
    assert.equal(b!.ids[76], 49407);
  });

  test('the prompt cleaner is not applied: LoRA tags and weights are tokenised as written', async (ctx) => {
    if (skipIfMissing(ctx, shared)) return;
    const { lines } = await tokenize('{"text":"<lora:x:1> (cat:1.2)"}\n');
    const ids = (lines[0] as { ids: number[] }).ids;
    assert.ok(ids.indexOf(49407) > 8, 'the tag and the weight are tokenised');
  });

  test('a malformed line gets an error line in its place and the command fails with INPUT_INVALID', async (ctx) => {
    if (skipIfMissing(ctx, shared)) return;
    const { lines, error } = await tokenize('{"text":"ok"}\nnot json\n{"txt":"x"}\n{"text":"fine"}\n');
    assert.equal(lines.length, 4);
    assert.ok('error' in (lines[1] as object) && 'error' in (lines[2] as object));
    assert.ok('ids' in (lines[3] as object));
    assert.ok(hasCode(error, 'INPUT_INVALID'));
  });

  test('a missing vocabulary is MODEL_MISSING naming `npm run models`', async () => {
    await assert.rejects(
      runTokenize(Readable.from(['{"text":"x"}\n']), new PassThrough(), { vocabPath: '/nonexistent/v.gz' }),
      (e: unknown) => hasCode(e, 'MODEL_MISSING') && e.userMessage.includes('npm run models'),
    );
  });
});

describe('loralens models', () => {
  let server: Server;
  let origin: string;
  const agent = new Agent();
  const body = Buffer.from('tiny model bytes '.repeat(1000));
  before(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/m.onnx' ? 200 : 404, {
        'content-length': req.url === '/m.onnx' ? body.length : 0,
      });
      res.end(req.url === '/m.onnx' ? body : undefined);
    });
    origin = await listenLocal(server);
  });
  after(async () => {
    await closeLocal(server);
    await agent.close();
  });

  test('downloads then --check verifies; a damaged file makes --check fail', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'loralens-cli-models-'));
    try {
      const manifestPath = join(dir, 'manifest.json');
      const sha = createHash('sha256').update(body).digest('hex');
      const file = (name: string, url: string) => ({
        id: name,
        file: name,
        url,
        sha256: sha,
        size: body.length,
        pinned: true,
        licence: 'test',
        groups: ['fp32'],
        inputs: [],
        outputs: [],
      });
      await writeFile(
        manifestPath,
        JSON.stringify({ version: 1, files: [file('m.onnx', `${origin}/m.onnx`)] }),
      );
      const out = new PassThrough();
      let text = '';
      out.on('data', (c: Buffer) => {
        text += c.toString();
      });
      const common = {
        dir,
        manifestPath,
        dispatcher: agent,
        stdout: out,
        stderr: new PassThrough(),
        progressBar: false,
      };
      assert.equal(await runModels(common), 0);
      assert.deepEqual(await readFile(join(dir, 'm.onnx')), body);
      assert.equal(await runModels({ ...common, check: true }), 0);
      assert.match(text, /All 1 model files verified/);
      await writeFile(join(dir, 'm.onnx'), Buffer.from('x'));
      assert.equal(await runModels({ ...common, check: true }), 1);
      await assert.rejects(runModels({ ...common, group: 'nope' }), (e: unknown) =>
        hasCode(e, 'INPUT_INVALID'),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('missing CLIP files give one sentence telling the user to run `npm run models`', async () => {
    const r = await clipModelAvailability('/nonexistent-dir');
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.match(r.sentence, /npm run models/);
      assert.deepEqual(r.missing, ['vision_model.onnx', 'text_model.onnx', 'bpe_simple_vocab_16e6.txt.gz']);
    }
  });
});
