// Test-only helpers (excluded from the build). Candidates for @gatehouse/testing once it exists.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** REDIS_URL for the Redis half of a contract suite; prints one line when it is missing instead of skipping silently. */
export function redisUrlForTests(suite: string): string | undefined {
  const url = process.env.REDIS_URL;
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

/** Polls `condition` until it returns a truthy value or `timeoutMs` passes (then throws). */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 3000, intervalMs = 10, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
