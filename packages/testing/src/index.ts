export { createTestDatabase, testDatabaseUrl, type TestDatabase } from './test-database';
export { testRedisUrl } from './redis';
