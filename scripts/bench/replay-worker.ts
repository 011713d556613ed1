/**
 * The Civitai replay for the pipeline bench, in its own worker thread: the replay's own work (JSON
 * rewriting, safetensors bodies, image bodies) then does not count as the audit's event-loop delay.
 * workerData: { models: catalogue size, realImages: serve the shared fixture images as 512-px JPEGs
 * (like the CDN's width=512 renditions) instead of generated 96×128 PNGs }. Posts { url } once
 * listening; a 'close' message closes the server and ends the thread.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { startCivitaiReplay } from '../../tests/support/civitai-replay.ts';
import { SHARED_DIR, sharedCatalogue } from '../../tests/support/shared-catalogue.ts';

export interface ReplayWorkerData {
  models: number;
  realImages: boolean;
}

/** The shared fixture images as 512-px-wide JPEGs (quality 90). */
export async function fixtureJpegs(): Promise<Buffer[]> {
  const dir = resolve(SHARED_DIR, 'fixtures', 'images');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort();
  return Promise.all(
    files.map((f) => sharp(join(dir, f)).resize({ width: 512 }).jpeg({ quality: 90 }).toBuffer()),
  );
}

const port = parentPort;
if (port) {
  const data = workerData as ReplayWorkerData;
  const bodies = data.realImages ? await fixtureJpegs() : [];
  const replay = await startCivitaiReplay({
    catalogue: sharedCatalogue(data.models),
    ...(data.realImages
      ? { cdnImage: (id: number) => ({ bytes: bodies[id % bodies.length]!, contentType: 'image/jpeg' }) }
      : {}),
  });
  port.postMessage({ url: replay.url });
  port.on('message', async (msg: unknown) => {
    if (msg === 'close') {
      await replay.close();
      port.close();
    }
  });
}
