/**
 * A `loralens worker` process with an injected fast analysis (the fake audit service, each audit
 * taking AUDIT_MS with progress on the way). Prints `start <model>` and `done <model>` per audit
 * and `ready` once listening. Env: REDIS_URL, AUDIT_MS, GATE_FILE (audits wait until it exists).
 */
import { existsSync } from 'node:fs';
import type { AuditSelectionInput } from '../../../src/analysis/audit/types.ts';
import { silentLogger } from '../../../src/analysis/ports.ts';
import { runWorker } from '../../../src/cli/worker.ts';
import { FakeAuditService } from '../../bot/support/fake-audit-service.ts';

const auditMs = Number(process.env.AUDIT_MS ?? 400);
const fake = new FakeAuditService();
const label = (s: AuditSelectionInput) => (s.kind === 'model' ? s.ref : s.kind);
const service = {
  async audit(...args: Parameters<FakeAuditService['audit']>) {
    const [selection, , hooks] = args;
    process.stdout.write(`start ${label(selection)}\n`);
    const steps = 4;
    for (let i = 1; i <= steps; i++) {
      await new Promise((r) => setTimeout(r, auditMs / steps));
      hooks?.signal?.throwIfAborted();
      hooks?.onProgress?.({ stage: 'models', done: i, total: steps });
    }
    // A test holds every audit here until it creates the gate file (jobs "running" on demand).
    const gate = process.env.GATE_FILE;
    while (gate && !existsSync(gate)) {
      await new Promise((r) => setTimeout(r, 50));
      hooks?.signal?.throwIfAborted();
    }
    const result = await fake.audit(...args);
    process.stdout.write(`done ${label(selection)}\n`);
    return result;
  },
};
const until = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
const logger = {
  ...silentLogger,
  info: (_obj: object, msg?: string) => {
    if (msg === 'loralens worker ready') process.stdout.write('ready\n');
  },
  child: () => logger,
};
const running = runWorker({
  url: process.env.REDIS_URL ?? '',
  service,
  logger,
  concurrency: 2,
  lockDurationMs: 1_000,
  stalledIntervalMs: 500,
  until,
});
await running;
process.exit(0);
