/** `npm run models [-- --check] [-- --variant quantized|all] [-- --trust-on-first-use] [-- --dir DIR]`. */
import { parseArgs } from 'node:util';
import { isAppError } from '../src/analysis/errors.ts';
import { runModels } from '../src/cli/models.ts';

const { values } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    variant: { type: 'string', default: 'fp32' },
    'trust-on-first-use': { type: 'boolean', default: false },
    dir: { type: 'string' },
  },
});
try {
  process.exitCode = await runModels({
    check: values.check,
    group: values.variant,
    trustOnFirstUse: values['trust-on-first-use'],
    ...(values.dir ? { dir: values.dir } : {}),
  });
} catch (error) {
  console.error(isAppError(error) ? error.userMessage : error);
  process.exitCode = isAppError(error) && error.userFault ? 2 : 1;
}
