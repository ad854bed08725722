import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis server for tests (REDIS_URL), or undefined to use the in-process implementations. */
export function testRedisUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.REDIS_URL || undefined;
}

/**
 * REDIS_URL for the Redis half of a contract suite; prints one line naming `suite` when it is missing, so a run
 * without Redis says what it left out instead of skipping silently.
 */
export function redisUrlForTests(suite: string): string | undefined {
  const url = testRedisUrl();
  if (!url)
    process.stderr.write(`[${suite}] REDIS_URL is not set: only the in-process implementation is tested\n`);
  return url;
}

/** A key namespace unique to one test file, so parallel runs never see each other's keys. */
export function uniqueTestPrefix(): string {
  return `gatehouse-test:${randomUUID()}`;
}

/** Deletes every key starting with `prefix` (SCAN, not KEYS, so a shared Redis is never blocked). */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}
