/**
 * `npm run demo`: an offline audit anyone can run. Starts a local Civitai replay server on
 * 127.0.0.1 with the project's own demo fixtures and runs `loralens audit --top 5` against it.
 * Sample images are real SD generations from ../shared/fixtures/images when that folder is there
 * (so the bias columns describe real pictures), else generated PNGs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCli } from '../src/cli/main.ts';
import { demoCatalogue } from '../tests/fixtures/demo/catalogue.ts';
import { startCivitaiReplay } from '../tests/support/civitai-replay.ts';

const out = resolve(process.argv[2] ?? 'demo-out');
const imagesDir = resolve(import.meta.dirname, '../../shared/fixtures/images');
const realImages = existsSync(imagesDir)
  ? readdirSync(imagesDir)
      .filter((f) => /\.png$/i.test(f))
      .sort()
      .map((f) => readFileSync(join(imagesDir, f)))
  : [];
const replay = await startCivitaiReplay({
  catalogue: demoCatalogue(),
  ...(realImages.length > 0
    ? { cdnImage: (id: number) => ({ bytes: realImages[id % realImages.length]!, contentType: 'image/png' }) }
    : {}),
});
process.stderr.write(`demo Civitai replay server on ${replay.url} (loopback only, made-up data)\n`);
try {
  const code = await runCli(['audit', '--top', '5', '--out', out], {
    stdout: process.stdout,
    stderr: process.stderr,
    env: {
      ...process.env,
      CIVITAI_BASE_URL: replay.url,
      // A key is needed for comments on the real site; the replay server accepts any.
      CIVITAI_API_KEY: 'demo-key-not-secret',
      LORALENS_STORE_URL: 'memory://',
      CIVITAI_RATE_PER_SECOND: '50',
    },
  });
  process.stderr.write(
    `\nopen ${out}/metrics.csv and ${out}/audit.json to see everything the audit recorded.\n`,
  );
  process.exitCode = code;
} finally {
  await replay.close();
}
