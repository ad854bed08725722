// Stops the PostgreSQL server that jest.global-setup.ts started (a configured one is left running).
import type {} from './jest.global-setup'; // the __gatehouseTestPostgres global

export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__gatehouseTestPostgres;
  globalThis.__gatehouseTestPostgres = undefined;
  await server?.stop();
}
