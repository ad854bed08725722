// Jest global setup: provides TEST_DATABASE_URL to every test worker (see scripts/test-postgres.ts for where
// the server comes from) and keeps the server for jest.global-teardown.ts to stop.
// Workspace packages are imported by path: Jest's global setup runs outside the `source` export condition.
import { provideTestPostgres, type TestPostgres } from './scripts/test-postgres';

declare global {
  var __gatehouseTestPostgres: TestPostgres | undefined;
}

export default async function globalSetup(): Promise<void> {
  const server = await provideTestPostgres();
  globalThis.__gatehouseTestPostgres = server;
  process.env.TEST_DATABASE_URL = server.url;
}
