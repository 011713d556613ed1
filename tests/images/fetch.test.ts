import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent } from 'undici';
import { hasCode } from '../../src/analysis/errors.ts';
import {
  boundCivitaiImageWidth,
  cdnWidthForShortSide,
  isCivitaiImageHost,
} from '../../src/analysis/images/civitai-cdn.ts';
import { createImageFetcher } from '../../src/analysis/images/fetch.ts';
import { closeLocal, listenLocal } from '../support/local-server.ts';
import { needsShared, SHARED_DIR } from '../support/requirements.ts';

// A real PNG from ../shared; without that folder the tests that download it are skipped.
const shared = needsShared();
const png = shared.skip
  ? Buffer.alloc(0)
  : readFileSync(resolve(SHARED_DIR, 'fixtures', 'images', 'comfyex-1.png'));

let server: Server;
let origin: string;
const agent = new Agent({ connections: 8 });
const hits: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const url = req.url ?? '/';
    if (url === '/img.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      res.end(png);
    } else if (url === '/redirect-local') {
      res.writeHead(302, { location: '/img.png' });
      res.end();
    } else if (url === '/redirect-foreign') {
      res.writeHead(302, { location: 'http://evil.example.com/img.png' });
      res.end();
    } else if (url === '/redirect-other-port') {
      res.writeHead(301, { location: 'http://127.0.0.1:1/img.png' });
      res.end();
    } else if (url === '/loop') {
      res.writeHead(307, { location: '/loop' });
      res.end();
    } else if (url === '/video') {
      res.writeHead(200, { 'content-type': 'video/mp4' });
      res.end(Buffer.alloc(100));
    } else if (url === '/svg') {
      res.writeHead(200, { 'content-type': 'image/svg+xml' });
      res.end('<svg/>');
    } else if (url === '/chunked-big') {
      res.writeHead(200, { 'content-type': 'image/png' });
      // No content-length: the cap must hold while streaming.
      let sent = 0;
      const pump = (): void => {
        while (sent < 5_000_000) {
          sent += 65536;
          if (!res.write(Buffer.alloc(65536))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    } else if (url === '/slow') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.write(png.subarray(0, 100));
      // never ends
    } else if (url === '/missing') {
      res.writeHead(404);
      res.end('nope');
    } else {
      res.writeHead(500);
      res.end();
    }
  });
  origin = await listenLocal(server);
});
after(async () => {
  await closeLocal(server);
  await agent.close();
});

const fetcher = (opts: { maxBytes?: number; timeoutMs?: number } = {}) =>
  createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin], ...opts });

describe('image fetcher on a loopback server', () => {
  test('downloads an allowed image', shared, async () => {
    const r = await fetcher().fetch(`${origin}/img.png`);
    assert.ok(r.ok);
    if (r.ok) assert.equal(r.bytes.length, png.length);
  });

  test('follows a same-origin redirect and reports the final URL', shared, async () => {
    const r = await fetcher().fetch(`${origin}/redirect-local`);
    assert.ok(r.ok);
    if (r.ok) assert.equal(r.finalUrl, `${origin}/img.png`);
  });

  test('a redirect to a foreign host is refused without contacting it', async () => {
    const r = await fetcher().fetch(`${origin}/redirect-foreign`);
    assert.deepEqual(r.ok ? 'ok' : r.reason, 'host-not-allowed');
    const r2 = await fetcher().fetch(`${origin}/redirect-other-port`);
    assert.deepEqual(r2.ok ? 'ok' : r2.reason, 'host-not-allowed');
  });

  test('hosts outside the allow-list are refused, including look-alikes and credentials', async () => {
    const f = fetcher();
    for (const url of [
      'https://evil.example.com/x.png',
      'https://civitai.com.evil.net/x.png',
      'http://image.civitai.com/x/y/z.png',
      'https://image.civitai.com:8443/x/y/z.png',
      'https://user:pw@image.civitai.com/x/y/z.png',
      'file:///etc/passwd',
      'not a url',
    ]) {
      const r = await f.fetch(url);
      assert.equal(r.ok ? 'ok' : r.reason, 'host-not-allowed', url);
    }
  });

  test('redirect loops stop after maxRedirects', async () => {
    const r = await fetcher().fetch(`${origin}/loop`);
    assert.equal(r.ok ? 'ok' : r.reason, 'too-many-redirects');
  });

  test('video and SVG content types are refused, HTTP errors are recorded', async () => {
    const f = fetcher();
    assert.equal(((await f.fetch(`${origin}/video`)) as { reason: string }).reason, 'video');
    assert.equal(((await f.fetch(`${origin}/svg`)) as { reason: string }).reason, 'svg');
    const missing = await f.fetch(`${origin}/missing`);
    assert.equal(
      missing.ok ? 'ok' : `${missing.reason}:${missing.detail}`,
      `http-status:HTTP 404 from ${new URL(origin).host}`,
    );
  });

  test('the size cap holds on Content-Length and while streaming', shared, async () => {
    const small = fetcher({ maxBytes: 1000 });
    assert.equal(((await small.fetch(`${origin}/img.png`)) as { reason: string }).reason, 'too-large-bytes');
    assert.equal(
      ((await fetcher({ maxBytes: 1_000_000 }).fetch(`${origin}/chunked-big`)) as { reason: string }).reason,
      'too-large-bytes',
    );
  });

  test('a stalled body times out as a skip, and an aborted caller gets ABORTED', shared, async () => {
    const r = await fetcher({ timeoutMs: 300 }).fetch(`${origin}/slow`);
    assert.equal(r.ok ? 'ok' : r.reason, 'timeout');
    const ctl = new AbortController();
    const pending = fetcher({ timeoutMs: 10_000 }).fetch(`${origin}/slow`, ctl.signal);
    setTimeout(() => ctl.abort(), 100);
    await assert.rejects(pending, (e: unknown) => hasCode(e, 'ABORTED'));
  });
});

describe('Civitai CDN URLs', () => {
  const base = 'https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/0b3a1c9e-1111-2222-3333-444455556666';
  test('width is bounded, original=true replaced, missing options added, small widths kept', () => {
    assert.equal(boundCivitaiImageWidth(`${base}/width=1024/123.jpeg`, 512), `${base}/width=512/123.jpeg`);
    assert.equal(boundCivitaiImageWidth(`${base}/original=true/123.jpeg`, 512), `${base}/width=512/123.jpeg`);
    assert.equal(
      boundCivitaiImageWidth(`${base}/anim=false,width=1080/1.jpeg`, 450),
      `${base}/anim=false,width=450/1.jpeg`,
    );
    assert.equal(boundCivitaiImageWidth(`${base}/width=300/1.jpeg`, 512), `${base}/width=300/1.jpeg`);
    assert.equal(boundCivitaiImageWidth(`${base}/1.jpeg`, 512), `${base}/width=512/1.jpeg`);
  });
  test('the requested width keeps the shorter side at 224 or more', () => {
    assert.equal(cdnWidthForShortSide(832, 1216, 224), 512); // portrait: width is the short side
    assert.equal(cdnWidthForShortSide(1024, 1024, 224), 512);
    assert.equal(cdnWidthForShortSide(1920, 1080, 224), 512); // 16:9 at 512 wide is 288 high
    assert.equal(cdnWidthForShortSide(2560, 1080, 224), 531); // 21:9 needs ceil(224·2560/1080)
    assert.equal(cdnWidthForShortSide(3072, 1024, 224), 672);
    assert.equal(cdnWidthForShortSide(600, 100, 224), 600); // never more than the original
    assert.equal(cdnWidthForShortSide(null, 700, 224), 512);
    assert.equal(cdnWidthForShortSide(900, undefined, 224), 512);
    for (const [w, h] of [
      [1500, 577],
      [4096, 1000],
      [999, 224],
    ] as const) {
      const width = cdnWidthForShortSide(w, h, 224);
      assert.ok(Math.round((width * h) / w) >= 224 || width === w, `${w}×${h} → ${width}`);
    }
  });

  test("the fetcher's requested URL: panoramas wider, its own base width kept, null keeps URLs as given", () => {
    const url = `${base}/width=1024/123.jpeg`;
    const wide = { width: 3072, height: 1024, minShortSide: 224 };
    const tall = { width: 832, height: 1216, minShortSide: 224 };
    const dispatcher = new Agent();
    const f512 = createImageFetcher({ dispatcher });
    assert.equal(f512.requestUrl(url), `${base}/width=512/123.jpeg`);
    assert.equal(f512.requestUrl(url, tall), `${base}/width=512/123.jpeg`);
    assert.equal(f512.requestUrl(url, wide), `${base}/width=672/123.jpeg`);
    const f1024 = createImageFetcher({ dispatcher, cdnWidth: 1024 });
    assert.equal(f1024.requestUrl(url, tall), url);
    const asIs = createImageFetcher({ dispatcher, cdnWidth: null });
    assert.equal(asIs.requestUrl(`${base}/original=true/123.jpeg`, wide), `${base}/original=true/123.jpeg`);
    void dispatcher.close();
  });

  test('non-Civitai URLs are untouched', () => {
    assert.equal(
      boundCivitaiImageWidth('http://127.0.0.1:9/a/b/width=1024/c.png', 512),
      'http://127.0.0.1:9/a/b/width=1024/c.png',
    );
  });
  test('host matching', () => {
    assert.ok(isCivitaiImageHost('image.civitai.com'));
    assert.ok(isCivitaiImageHost('imagecache.civitai.com'));
    assert.ok(isCivitaiImageHost('cdn.civitai.com'));
    assert.ok(!isCivitaiImageHost('civitai.com.evil.net'));
    assert.ok(!isCivitaiImageHost('evilcivitai.com'));
  });
});
