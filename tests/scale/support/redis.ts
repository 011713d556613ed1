import { Redis } from 'ioredis';
import { type RedisHandle, startRedis } from '../../support/redis-server.ts';
import { redisAvailable, requirement } from '../../support/requirements.ts';

/**
 * One redis-server for a test file; each test gets an empty database (FLUSHALL), so keys of one
 * test never leak into the next. Undefined when Redis is missing (the suite is skipped then).
 */
export async function redisForTests(): Promise<RedisHandle | undefined> {
  if (!redisAvailable()) return undefined;
  return startRedis();
}

export async function flush(url: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: null });
  try {
    await client.flushall();
  } finally {
    client.disconnect();
  }
}

export { requirement };
