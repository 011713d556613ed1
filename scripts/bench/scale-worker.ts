/** A bench worker process: `loralens worker` running the synthetic analysis (scale-work.ts). Env: REDIS_URL. */
import { silentLogger } from '../../src/analysis/ports.ts';
import { runWorker } from '../../src/cli/worker.ts';
import { syntheticService } from './scale-work.ts';

const until = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
const logger = {
  ...silentLogger,
  info: (_obj: object, msg?: string) => {
    if (msg === 'loralens worker ready') process.stdout.write('ready\n');
  },
  child: () => logger,
};
await runWorker({
  url: process.env.REDIS_URL ?? '',
  service: syntheticService,
  logger,
  concurrency: 1,
  until,
});
process.exit(0);
