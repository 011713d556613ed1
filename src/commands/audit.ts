import {
  type APIApplicationCommandIntegerOption,
  type APIApplicationCommandStringOption,
  ApplicationCommandOptionType,
  ApplicationIntegrationType,
  InteractionContextType,
} from 'discord.js';
import { z } from 'zod';
import {
  AuditModelType,
  AuditSelection,
  type BiasReference,
  DEFAULT_MODEL_TYPES,
  MetricPeriod,
  ModelSort,
} from '../analysis/audit/types.ts';
import { t } from '../i18n/index.ts';
import { browsingLevelFor, looksLikeModelRef } from './audit-request.ts';
import { choice, named } from './localize.ts';
import type { QueueBusy } from './ports.ts';
import { parseOptions } from './shared.ts';
import type { Command, CommandContext, CommandDeps } from './types.ts';

const TypesChoice = z.enum(['all', ...AuditModelType.options]);

// No min(1): a blank model gets the model sentence (input.badModelRef) from looksLikeModelRef.
/** Optional bias reference: a model id or civitai.com URL (checked with the model sentence). */
const ReferenceOption = z.string().trim().max(300).optional();
const ModelOptions = z.object({ model: z.string().trim().max(300), reference: ReferenceOption });
const TopOptions = z.object({
  n: z.number().int().min(1).max(200),
  period: MetricPeriod.default('AllTime'),
  types: TypesChoice.default('all'),
  sort: ModelSort.default('Most Downloaded'),
  reference: ReferenceOption,
});

/** The `reference` option (both subcommands): compare the bias metrics with another model's images. */
export const referenceOption: APIApplicationCommandStringOption = {
  type: ApplicationCommandOptionType.String,
  ...named('opt.reference.name', 'opt.reference.description'),
  required: false,
  max_length: 300,
};

/** Model types for a `types` choice. */
export function typesFor(choiceValue: z.infer<typeof TypesChoice>): [AuditModelType, ...AuditModelType[]] {
  if (choiceValue === 'all') return [...DEFAULT_MODEL_TYPES] as [AuditModelType, ...AuditModelType[]];
  return [choiceValue];
}

export const typesOption: APIApplicationCommandStringOption = {
  type: ApplicationCommandOptionType.String,
  ...named('opt.types.name', 'opt.types.description'),
  required: false,
  choices: [
    choice('choice.types.all', 'all'),
    choice('choice.types.LORA', 'LORA'),
    choice('choice.types.LoCon', 'LoCon'),
    choice('choice.types.DoRA', 'DoRA'),
  ],
};

export const nOption = (required: boolean): APIApplicationCommandIntegerOption => ({
  type: ApplicationCommandOptionType.Integer,
  ...named('opt.n.name', 'opt.n.description'),
  required,
  min_value: 1,
  max_value: 200,
});

/** The one ephemeral sentence for a refused request (the reply is public until then, so it goes). */
async function replyBusy(ctx: CommandContext, busy: QueueBusy): Promise<void> {
  const content = t(ctx.locale, `queue.busy.${busy.reason}${busy.limit === 1 ? '.one' : ''}`, {
    limit: busy.limit,
    position: busy.position,
  });
  if (ctx.state === 'fresh') {
    await ctx.reply({ content, ephemeral: true });
    return;
  }
  await ctx.deleteReply();
  await ctx.followUp({ content, ephemeral: true });
}

async function run(
  ctx: CommandContext,
  deps: CommandDeps,
  selection: AuditSelection,
  reference: BiasReference | undefined,
): Promise<void> {
  const request = {
    selection,
    maxBrowsingLevel: browsingLevelFor(ctx.channelNsfw),
    ...(reference ? { reference } : {}),
    requester: {
      kind: 'interaction' as const,
      guildId: ctx.guildId,
      channelId: ctx.channelId,
      userId: ctx.userId,
      locale: ctx.locale,
      nsfw: ctx.channelNsfw,
    },
  };
  const log = deps.logger.child({ command: 'audit', user: ctx.userId, guild: ctx.guildId });
  // Refuse before deferring when the queue is already full: one quick ephemeral answer.
  const early = deps.runner.busy(request);
  if (early) {
    log.info({ busy: early }, 'audit refused: queue busy');
    await replyBusy(ctx, early);
    return;
  }
  await ctx.deferReply();
  const outcome = await deps.runner.submit({ ...request, listener: deps.deliver(ctx) });
  if (!outcome.accepted) {
    log.info({ busy: outcome.busy }, 'audit refused: queue busy');
    await replyBusy(ctx, outcome.busy);
    return;
  }
  log.info({ job: outcome.key, position: outcome.position, shared: outcome.shared }, 'audit requested');
}

export const audit = {
  data: {
    ...named('cmd.audit.name', 'cmd.audit.description'),
    contexts: [InteractionContextType.Guild, InteractionContextType.BotDM],
    integration_types: [ApplicationIntegrationType.GuildInstall],
    options: [
      {
        type: ApplicationCommandOptionType.Subcommand,
        ...named('cmd.audit.model.name', 'cmd.audit.model.description'),
        options: [
          {
            type: ApplicationCommandOptionType.String,
            ...named('cmd.audit.model.opt.model.name', 'cmd.audit.model.opt.model.description'),
            required: true,
            autocomplete: true,
            max_length: 300,
          },
          referenceOption,
        ],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        ...named('cmd.audit.top.name', 'cmd.audit.top.description'),
        options: [
          nOption(true),
          {
            type: ApplicationCommandOptionType.String,
            ...named('opt.period.name', 'opt.period.description'),
            required: false,
            choices: MetricPeriod.options.map((p) => choice(`choice.period.${p}`, p)),
          },
          typesOption,
          {
            type: ApplicationCommandOptionType.String,
            ...named('opt.sort.name', 'opt.sort.description'),
            required: false,
            choices: ModelSort.options.map((s) => choice(`choice.sort.${s}`, s)),
          },
          referenceOption,
        ],
      },
    ],
  },

  async execute(ctx, deps) {
    // A given reference must look like a model reference too (same sentence as a bad model).
    const referenceOf = async (ref: string | undefined): Promise<BiasReference | undefined | false> => {
      if (ref === undefined || ref === '') return undefined;
      if (looksLikeModelRef(ref)) return { kind: 'model', ref };
      await ctx.reply({ content: t(ctx.locale, 'input.badModelRef'), ephemeral: true });
      return false;
    };
    if (ctx.subcommand === 'model') {
      const options = await parseOptions(ctx, ModelOptions);
      if (!options) return;
      if (!looksLikeModelRef(options.model)) {
        await ctx.reply({ content: t(ctx.locale, 'input.badModelRef'), ephemeral: true });
        return;
      }
      const reference = await referenceOf(options.reference);
      if (reference === false) return;
      await run(ctx, deps, AuditSelection.parse({ kind: 'model', ref: options.model }), reference);
      return;
    }
    if (ctx.subcommand === 'top') {
      const options = await parseOptions(ctx, TopOptions);
      if (!options) return;
      const reference = await referenceOf(options.reference);
      if (reference === false) return;
      const selection = AuditSelection.parse({
        kind: 'top',
        to: new Date(deps.clock.now()).toISOString().slice(0, 10),
        n: options.n,
        period: options.period,
        sort: options.sort,
        types: typesFor(options.types),
        nsfw: ctx.channelNsfw,
      });
      await run(ctx, deps, selection, reference);
      return;
    }
    await ctx.reply({ content: t(ctx.locale, 'input.invalid', { detail: 'subcommand' }), ephemeral: true });
  },

  async autocomplete(ctx, deps) {
    if (ctx.focused.name !== 'model') {
      await ctx.respond([]);
      return;
    }
    await ctx.respond(await deps.search.choices(ctx.focused.value));
  },
} satisfies Command;
