/**
 * `npm run replay [-- --catalogue demo|shared] [--port N]`: run the local Civitai replay server in the
 * foreground (127.0.0.1 only) so the CLI or the bot can be pointed at it:
 *   CIVITAI_BASE_URL=http://127.0.0.1:PORT npx loralens crawl --top 5
 * `shared` builds its data from ../shared/fixtures (real recorded responses, 300+ models);
 * `demo` uses the project's own made-up models.
 */
import { parseArgs } from 'node:util';
import type { Catalogue } from '../tests/support/catalogue.ts';
import { startCivitaiReplay } from '../tests/support/civitai-replay.ts';

const { values } = parseArgs({
  options: { catalogue: { type: 'string', default: 'demo' }, port: { type: 'string', default: '0' } },
});
let catalogue: Catalogue;
if (values.catalogue === 'shared') {
  const { sharedAvailable, SHARED_MISSING } = await import('../tests/support/requirements.ts');
  if (!sharedAvailable()) {
    console.error(`the shared catalogue ${SHARED_MISSING}; use --catalogue demo`);
    process.exit(2);
  }
  catalogue = (await import('../tests/support/shared-catalogue.ts')).sharedCatalogue();
} else if (values.catalogue === 'demo') {
  catalogue = (await import('../tests/fixtures/demo/catalogue.ts')).demoCatalogue();
} else {
  console.error(`unknown catalogue "${values.catalogue}": use demo or shared`);
  process.exit(2);
}
const replay = await startCivitaiReplay({ catalogue, port: Number(values.port) });
console.log(`Civitai replay server (${values.catalogue}) on ${replay.url}`);
console.log(`try: CIVITAI_BASE_URL=${replay.url} npx loralens crawl --top 5`);
const stop = (): void => {
  void replay.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
