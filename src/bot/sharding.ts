import { fileURLToPath } from 'node:url';
import { ShardingManager } from 'discord.js';
import { AppError, ErrorCode } from '../analysis/errors.ts';
import type { Logger } from '../analysis/ports.ts';

/** `--shards auto` or a fixed count. */
export type ShardCount = 'auto' | number;

/** Parse the value of `--shards`: `auto` or a whole number ≥ 1 (CONFIG_INVALID otherwise). */
export function parseShardCount(value: string): ShardCount {
  if (value === 'auto') return 'auto';
  if (/^\d+$/.test(value) && Number(value) >= 1) return Number(value);
  throw new AppError(ErrorCode.CONFIG_INVALID, `Invalid --shards value ${value}`, {
    userMessage: '--shards must be auto or a whole number of at least 1.',
    userFault: true,
  });
}

/**
 * The shard count Discord recommends (GET /gateway/bot `shards`), from the configured API base,
 * so a test against the fake Discord and production use the same path.
 */
export async function recommendedShards(apiUrl: string | undefined, token: string): Promise<number> {
  const base = (apiUrl ?? 'https://discord.com/api').replace(/\/+$/, '');
  const response = await fetch(`${base}/v10/gateway/bot`, { headers: { Authorization: `Bot ${token}` } });
  if (!response.ok) {
    throw new AppError(ErrorCode.CONFIG_INVALID, `GET /gateway/bot answered ${response.status}`, {
      userMessage: `Discord did not say how many shards to use (HTTP ${response.status}); check DISCORD_TOKEN.`,
    });
  }
  const body = (await response.json()) as { shards?: unknown };
  if (typeof body.shards !== 'number' || !Number.isInteger(body.shards) || body.shards < 1) {
    throw new AppError(ErrorCode.CONFIG_INVALID, 'GET /gateway/bot had no shard count');
  }
  return body.shards;
}

export interface ShardedBot {
  readonly manager: ShardingManager;
  readonly count: number;
  /** SIGTERM every shard process and wait for them to exit (each shuts down gracefully). */
  stop(): Promise<void>;
}

/**
 * Run the bot as `count` shard processes (discord.js ShardingManager), each the ordinary bot entry
 * point with SHARDS/SHARD_COUNT set; each shard answers its own servers' interactions and runs its
 * own servers' weekly reports. Discord requires sharding from 2 500 servers.
 */
export async function startShards(options: {
  token: string;
  apiUrl: string | undefined;
  shards: ShardCount;
  /** Pause between two shards' logins (Discord allows one identify per 5 s per bucket). */
  spawnDelayMs: number;
  logger: Logger;
}): Promise<ShardedBot> {
  const count =
    options.shards === 'auto' ? await recommendedShards(options.apiUrl, options.token) : options.shards;
  // The same entry point as this process: main.ts under tsx, main.js once built into dist/.
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSource ? './main.ts' : './main.js', import.meta.url));
  const manager = new ShardingManager(file, {
    totalShards: count,
    token: options.token,
    mode: 'process',
    respawn: true,
    execArgv: process.execArgv.length > 0 || !fromSource ? process.execArgv : ['--import', 'tsx'],
  });
  manager.on('shardCreate', (shard) => {
    options.logger.info({ shard: shard.id, of: count }, 'shard started');
    shard.on('death', () => options.logger.warn({ shard: shard.id }, 'shard process exited'));
  });
  await manager.spawn({ amount: count, delay: options.spawnDelayMs, timeout: 60_000 });
  return {
    manager,
    count,
    async stop() {
      await Promise.all(
        manager.shards.map(
          (shard) =>
            new Promise<void>((resolve) => {
              const child = shard.process;
              if (!child || child.exitCode !== null) return resolve();
              shard.removeAllListeners('death');
              child.removeAllListeners('exit');
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}
