import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { emptyCatalogue } from '../support/catalogue.ts';
import { buildSafetensors, type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { runCliCaptured } from '../support/run-cli.ts';

// Everything here is built in the test itself: no ../shared, no model files.
let replay: CivitaiReplay;
const emptyModels = mkdtempSync(join(tmpdir(), 'loralens-nomodels-'));
before(async () => {
  replay = await startCivitaiReplay({ catalogue: emptyCatalogue() });
});
after(() => replay.close());

const tmp = () => mkdtempSync(join(tmpdir(), 'loralens-cli-errors-'));
const env = (): NodeJS.ProcessEnv => ({
  CIVITAI_BASE_URL: replay.url,
  LORALENS_STORE_URL: 'memory://',
  LORALENS_MODELS_DIR: emptyModels,
  CIVITAI_RATE_PER_SECOND: '200',
  LOG_LEVEL: 'silent',
});

/** Deterministic bytes that are not a safetensors file. */
function noise(length: number): Buffer {
  const out = Buffer.alloc(length);
  let block = createHash('sha256').update('loralens').digest();
  for (let i = 0; i < length; i += block.length) {
    block.copy(out, i);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

function assertOneSentence(stderr: string, sentence: string): void {
  assert.equal(stderr, `error: ${sentence}\n`);
}

describe('--out pointing at something that is not a writable directory: exit 2 before any request', () => {
  for (const command of ['crawl', 'audit']) {
    test(`${command} --out FILE`, async () => {
      const file = join(tmp(), 'results.csv');
      writeFileSync(file, 'keep me\n');
      const before = replay.requests.length;
      const r = await runCliCaptured([command, '--top', '3', '--out', file], env());
      assert.equal(r.code, 2, r.stderr);
      assertOneSentence(
        r.stderr,
        `--out ${file} is a file, not a directory: give a directory (it is created if missing).`,
      );
      assert.equal(replay.requests.length, before, 'no request reached the server');
    });
  }

  test('--out below a file cannot be created', async () => {
    const file = join(tmp(), 'plain');
    writeFileSync(file, '');
    const before = replay.requests.length;
    const r = await runCliCaptured(['crawl', '--model', '5', '--out', join(file, 'sub')], env());
    assert.equal(r.code, 2, r.stderr);
    assertOneSentence(
      r.stderr,
      `--out ${join(file, 'sub')} cannot be created: ${file} is a file, not a directory.`,
    );
    assert.equal(replay.requests.length, before);
  });

  test('--out in a directory without write permission', {
    skip: process.getuid?.() === 0 ? 'root may write anywhere' : false,
  }, async () => {
    const { chmodSync } = await import('node:fs');
    const dir = tmp();
    chmodSync(dir, 0o500);
    const before = replay.requests.length;
    const r = await runCliCaptured(['crawl', '--top', '1', '--out', join(dir, 'o')], env());
    chmodSync(dir, 0o700);
    assert.equal(r.code, 2, r.stderr);
    assertOneSentence(r.stderr, `--out ${join(dir, 'o')} cannot be created: ${dir} is not writable.`);
    assert.equal(replay.requests.length, before);
  });
});

describe('--file that is not a safetensors file: exit 2, one sentence, nothing hashed or fetched', () => {
  test('random bytes', async () => {
    const path = join(tmp(), 'random.safetensors');
    writeFileSync(path, noise(5000));
    const before = replay.requests.length;
    const r = await runCliCaptured(['audit', '--file', path, '--out', tmp()], env());
    assert.equal(r.code, 2, r.stderr);
    assertOneSentence(
      r.stderr,
      'random.safetensors is not a safetensors file: its first 8 bytes do not give a header length that fits in the file (random or truncated data).',
    );
    assert.doesNotMatch(r.stderr, /\d{12,}/, 'no absurd header size');
    assert.doesNotMatch(r.stderr, /hashing/);
    assert.equal(replay.requests.length, before);
  });

  test('a file cut inside its header', async () => {
    const whole = buildSafetensors({ ss_output_name: 'cut' }, 4096);
    const n = Number(whole.readBigUInt64LE(0));
    const path = join(tmp(), 'cut.safetensors');
    writeFileSync(path, whole.subarray(0, 8 + Math.floor(n / 2)));
    const r = await runCliCaptured(['audit', '--file', path, '--out', tmp()], env());
    assert.equal(r.code, 2, r.stderr);
    assertOneSentence(
      r.stderr,
      'cut.safetensors is not a safetensors file: its first 8 bytes do not give a header length that fits in the file (random or truncated data).',
    );
  });

  test('a file cut inside its tensor data (an unfinished download)', async () => {
    const whole = buildSafetensors({ ss_output_name: 'cut' }, 64 * 1024);
    const path = join(tmp(), 'partial.safetensors');
    writeFileSync(path, whole.subarray(0, whole.length - 1000));
    const r = await runCliCaptured(['crawl', '--file', path, '--out', tmp()], env());
    assert.equal(r.code, 2, r.stderr);
    assertOneSentence(
      r.stderr,
      'partial.safetensors is not a safetensors file: it is truncated (its header describes 65536 bytes of tensor data, the file holds 64536).',
    );
  });

  test('an empty file', async () => {
    const path = join(tmp(), 'empty.safetensors');
    writeFileSync(path, '');
    const r = await runCliCaptured(['audit', '--file', path, '--out', tmp()], env());
    assert.equal(r.code, 2, r.stderr);
    assertOneSentence(r.stderr, 'empty.safetensors is not a safetensors file: it is only 0 bytes long.');
  });

  test('a header that is not JSON', async () => {
    const body = Buffer.from('PK\u0003\u0004 not json at all');
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(body.length));
    const path = join(tmp(), 'zip.safetensors');
    writeFileSync(path, Buffer.concat([head, body]));
    const r = await runCliCaptured(['audit', '--file', path, '--out', tmp()], env());
    assert.equal(r.code, 2, r.stderr);
    assertOneSentence(
      r.stderr,
      'zip.safetensors is not a safetensors file: its header does not start with "{".',
    );
  });

  test('a valid file: hashing progress has the file size as its total, never /0', async () => {
    const bytes = buildSafetensors({ ss_output_name: 'ok' }, 3 * 1024 * 1024);
    const path = join(tmp(), 'ok.safetensors');
    writeFileSync(path, bytes);
    const r = await runCliCaptured(['crawl', '--file', path, '--out', tmp()], env());
    assert.equal(r.code, 0, r.stderr);
    const hashing = [...r.stderr.matchAll(/^hashing (\d+)\/(\d+)/gm)];
    assert.ok(hashing.length >= 1, r.stderr);
    for (const [, done, total] of hashing) {
      assert.equal(Number(total), bytes.length);
      assert.ok(Number(done) <= bytes.length);
    }
    assert.equal(hashing.at(-1)?.[1], String(bytes.length), 'the last line is the whole file');
  });
});

describe('crawl and audit options', () => {
  test('crawl --help lists only the options crawl uses (no CLIP options)', async () => {
    const r = await runCliCaptured(['crawl', '--help'], {});
    assert.equal(r.code, 0);
    for (const used of ['--model', '--top', '--hash', '--file', '--types', '--out', '--no-comments']) {
      assert.match(r.stdout, new RegExp(`${used}\\b`), used);
    }
    assert.match(r.stdout, /--images-per-version/);
    assert.match(r.stdout, /--max-nsfw-level/);
    assert.doesNotMatch(r.stdout, /--clip-/);
  });

  test('audit --help keeps the CLIP options', async () => {
    const r = await runCliCaptured(['audit', '--help'], {});
    assert.equal(r.code, 0);
    for (const o of ['--clip-threshold', '--clip-alpha', '--clip-null-k'])
      assert.match(r.stdout, new RegExp(o));
  });

  test('crawl refuses a CLIP option as unknown', async () => {
    const r = await runCliCaptured(['crawl', '--top', '1', '--clip-alpha', '0.1', '--out', tmp()], env());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--clip-alpha'/);
  });

  const listing: Array<[string[], string]> = [
    [['--types', 'DoRA'], '--types'],
    [['--sort', 'Newest'], '--sort'],
    [['--period', 'Week'], '--period'],
    [['--from', '2024-01-01'], '--from'],
    [['--to', '2024-01-01'], '--to'],
    [['--nsfw'], '--nsfw'],
    [['--base-model', 'Pony'], '--base-model'],
  ];
  for (const [selector, value] of [
    ['--model', '11821'],
    ['--hash', 'ABCDEF0123'],
    ['--file', '/nonexistent/x.safetensors'],
  ] as const) {
    for (const [extra, flag] of listing) {
      test(`${flag} with ${selector} is refused, not ignored`, async () => {
        const before = replay.requests.length;
        const r = await runCliCaptured(['audit', selector, value, ...extra, '--out', tmp()], env());
        assert.equal(r.code, 2, r.stderr);
        assertOneSentence(
          r.stderr,
          `${flag} only applies to --top (a listing); it cannot be used with ${selector}.`,
        );
        assert.equal(replay.requests.length, before);
      });
    }
  }

  test('several listing options with --model are named together', async () => {
    const r = await runCliCaptured(
      ['crawl', '--model', '11821', '--sort', 'Newest', '--types', 'LORA', '--out', tmp()],
      env(),
    );
    assert.equal(r.code, 2);
    assertOneSentence(
      r.stderr,
      '--types, --sort only apply to --top (a listing); they cannot be used with --model.',
    );
  });
});

describe("an empty selector value: exit 2, the flag's own sentence, no request", () => {
  const cases: Array<[string[], string]> = [
    [['--model', ''], '--model needs a model id or a Civitai model URL, not an empty value.'],
    [['--model', '   '], '--model needs a model id or a Civitai model URL, not an empty value.'],
    [['--model='], '--model needs a model id or a Civitai model URL, not an empty value.'],
    [['--hash='], '--hash needs a file hash (SHA256 or AutoV2), not an empty value.'],
    [['--hash', ''], '--hash needs a file hash (SHA256 or AutoV2), not an empty value.'],
    [['--file', ''], '--file needs the path of a .safetensors file, not an empty value.'],
  ];
  for (const command of ['crawl', 'audit']) {
    for (const [args, sentence] of cases) {
      test(`${command} ${args.map((a) => JSON.stringify(a)).join(' ')}`, async () => {
        const before = replay.requests.length;
        const r = await runCliCaptured([command, ...args, '--out', tmp()], env());
        assert.equal(r.code, 2, r.stderr);
        assertOneSentence(r.stderr, sentence);
        assert.equal(replay.requests.length, before);
      });
    }
  }
});

test('scan-text into a reader that closes after the first line exits quietly with code 0 (like ripgrep)', async () => {
  const file = join(tmp(), 'big.jsonl');
  const line = `${JSON.stringify({ id: 1, text: 'The trigger word is wrong, the captions say vsk94.' })}\n`;
  writeFileSync(file, line.repeat(20_000));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'scan-text', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const first = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const nl = buffered.indexOf('\n');
      if (nl >= 0) {
        // Like `| head -1`: take one line, then close the reading end of the pipe.
        child.stdout.destroy();
        resolve(buffered.slice(0, nl));
      }
    });
    child.once('error', reject);
  });
  assert.equal(JSON.parse(first).id, 1);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (c, s) => resolve([c, s])),
  );
  assert.equal(signal, null);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '', 'nothing on stderr: no error, no stack trace');
});
