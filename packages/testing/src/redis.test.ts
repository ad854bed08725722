import { testRedisUrl } from './redis';

describe('testRedisUrl', () => {
  it('returns REDIS_URL, or undefined when it is unset or empty', () => {
    expect(testRedisUrl({ REDIS_URL: 'redis://127.0.0.1:6379' })).toBe('redis://127.0.0.1:6379');
    expect(testRedisUrl({ REDIS_URL: '' })).toBeUndefined();
    expect(testRedisUrl({})).toBeUndefined();
  });
});
