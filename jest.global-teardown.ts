// Stops the embedded PostgreSQL that jest.global-setup.ts started (if it started one).
import type {} from './jest.global-setup'; // the __gatehouseTestPostgres global
import fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const started = globalThis.__gatehouseTestPostgres;
  if (!started) return;
  globalThis.__gatehouseTestPostgres = undefined;
  await started.server.stop();
  if (started.ephemeralDataDir) fs.rmSync(started.ephemeralDataDir, { recursive: true, force: true });
}
