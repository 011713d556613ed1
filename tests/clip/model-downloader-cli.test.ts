import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { Agent } from 'undici';
import { runModels } from '../../src/cli/models.ts';
import { closeLocal, listenLocal } from '../support/local-server.ts';

// `npm run models` (scripts/models.ts → runModels) without a working network: each failure is one
// sentence naming what failed, exit code 1, and "run again to resume" only when bytes were kept.

const body = Buffer.from('tiny model bytes '.repeat(20_000));
const sha = createHash('sha256').update(body).digest('hex');
let server: Server;
let origin: string;
let host: string;
let requests = 0;
let cutAfter = 0; // > 0: send that many bytes of /cut, then drop the connection
const agent = new Agent();

before(async () => {
  server = createServer((req, res) => {
    requests += 1;
    if (req.url === '/m.onnx') {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    } else if (req.url === '/busy') {
      res.writeHead(503);
      res.end();
    } else if (req.url === '/cut') {
      // Honours Range like the real hosts do, and drops every connection after `cutAfter` bytes.
      const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const headers: Record<string, string | number> = { 'content-length': body.length - start };
      if (start > 0) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
      res.writeHead(start > 0 ? 206 : 200, headers);
      res.write(body.subarray(start, start + cutAfter), () => res.destroy());
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  origin = await listenLocal(server);
  host = new URL(origin).host;
});
after(async () => {
  await closeLocal(server);
  await agent.close();
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'loralens-models-cli-'));
  requests = 0;
  cutAfter = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(url: string, over: Record<string, unknown> = {}) {
  return {
    id: 'm',
    file: 'm.onnx',
    url,
    sha256: sha,
    size: body.length,
    pinned: true,
    licence: 'test',
    groups: ['fp32'],
    inputs: [],
    outputs: [],
    ...over,
  };
}

async function run(
  files: unknown[],
  options: { dispatcher?: Agent; bundledDir?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const manifestPath = join(dir, 'manifest.json');
  await writeFile(manifestPath, JSON.stringify({ version: 1, files }));
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  err.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await runModels({
    dir,
    manifestPath,
    dispatcher: options.dispatcher ?? agent,
    stdout: out,
    stderr: err,
    progressBar: false,
    sleep: async () => {},
    ...(options.bundledDir ? { bundledDir: options.bundledDir } : {}),
  });
  return { code, stdout, stderr };
}

/** An undici Agent whose DNS lookup fails with `code`, so no query leaves the machine. */
function failingLookup(code: string): Agent {
  return new Agent({
    connect: {
      lookup: (hostname: string, _options: unknown, callback: (err: Error) => void) => {
        callback(Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), { code, hostname }));
      },
    } as never,
  });
}

describe('npm run models: one sentence for what failed, exit code 1', () => {
  test('DNS failure (ENOTFOUND): the name could not be resolved, tried once, no resume offer', async () => {
    const dns = failingLookup('ENOTFOUND');
    try {
      const r = await run([entry('https://models.example.invalid/m.onnx')], { dispatcher: dns });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'FAILED   m.onnx: Downloading m.onnx failed: the name models.example.invalid could not be resolved (DNS ENOTFOUND); check the network connection and DNS or proxy settings.\n',
      );
      assert.equal(r.stdout, '1 model file(s) failed.\n');
    } finally {
      await dns.close();
    }
  });

  test('DNS failure (EAI_AGAIN, no resolver reachable)', async () => {
    const dns = failingLookup('EAI_AGAIN');
    try {
      const r = await run([entry('https://huggingface.co/m.onnx')], { dispatcher: dns });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'FAILED   m.onnx: Downloading m.onnx failed: the name huggingface.co could not be resolved (DNS EAI_AGAIN); check the network connection and DNS or proxy settings.\n',
      );
    } finally {
      await dns.close();
    }
  });

  test('a refused connection names the host and port', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await run([entry(`http://127.0.0.1:${port}/m.onnx`)]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `FAILED   m.onnx: Downloading m.onnx failed: 127.0.0.1:${port} refused the connection (ECONNREFUSED); check the network connection and proxy settings.\n`,
    );
  });

  test('an HTTP error status names the host and the status', async () => {
    const r = await run([entry(`${origin}/missing.onnx`)]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `FAILED   m.onnx: Downloading m.onnx failed: ${host} answered HTTP 404.\n`);
    assert.equal(requests, 1);
  });

  test('HTTP 503 is retried, then reported with the status and no resume offer (nothing was kept)', async () => {
    const r = await run([entry(`${origin}/busy`)]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `FAILED   m.onnx: Downloading m.onnx failed after 6 attempts (${host} answered HTTP 503).\n`,
    );
    assert.equal(requests, 6);
  });

  test('a connection dropped after some bytes offers the resume, since those bytes are kept', async () => {
    cutAfter = 20_000;
    const r = await run([entry(`${origin}/cut`)]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^FAILED {3}m\.onnx: Downloading m\.onnx failed after 6 attempts \(connection dropped after \d+ bytes\); the \d+ bytes received are kept, run `npm run models` again to resume\.\n$/,
    );
    assert.ok(existsSync(join(dir, 'm.onnx.part')));
  });

  test('a sha256 mismatch shows both hashes and discards the download', async () => {
    const r = await run([entry(`${origin}/m.onnx`, { sha256: 'ab'.repeat(32) })]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `FAILED   m.onnx: m.onnx does not match its pinned sha256 (received ${sha.slice(0, 12)}…, expected abababababab…); the download was discarded.\n`,
    );
    assert.equal(existsSync(join(dir, 'm.onnx')), false);
    assert.equal(existsSync(join(dir, 'm.onnx.part')), false);
  });
});

describe('npm run models and the vocabulary that ships with loralens', () => {
  test('a bundled file is verified in place and never requested', async () => {
    const bundledDir = await mkdtemp(join(tmpdir(), 'loralens-bundled-'));
    try {
      await writeFile(join(bundledDir, 'v.txt.gz'), body);
      const vocab = entry(`${origin}/should-not-be-fetched`, { id: 'v', file: 'v.txt.gz', bundled: true });
      const r = await run([vocab, entry(`${origin}/m.onnx`)], { bundledDir });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^ok {7}v\.txt\.gz .* \(ships with loralens\)$/m);
      assert.equal(requests, 1, 'only the tower was downloaded');
      assert.equal(existsSync(join(dir, 'v.txt.gz')), false);
    } finally {
      await rm(bundledDir, { recursive: true, force: true });
    }
  });

  test('a missing bundled file says so and how to restore it', async () => {
    const bundledDir = join(dir, 'no-assets');
    const vocab = entry(`${origin}/should-not-be-fetched`, { id: 'v', file: 'v.txt.gz', bundled: true });
    const r = await run([vocab], { bundledDir });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `FAILED   v.txt.gz: v.txt.gz ships with loralens, but ${join(bundledDir, 'v.txt.gz')} is missing; restore it from the package (e.g. \`git checkout assets/models\`).\n`,
    );
    assert.equal(requests, 0);
  });
});
