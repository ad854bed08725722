/** The Redis server for tests (REDIS_URL), or undefined to use the in-process implementations. */
export function testRedisUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.REDIS_URL || undefined;
}
