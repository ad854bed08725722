import type pg from 'pg';

export interface CheckDatabaseOptions {
  /** Give up after this long (default 2000 ms), including the wait for a pooled connection. */
  timeoutMs?: number;
}

/** Rejects when the database does not answer `SELECT 1` in time; resolves with the round-trip time. */
export async function checkDatabase(
  pool: pg.Pool,
  { timeoutMs = 2000 }: CheckDatabaseOptions = {},
): Promise<{ latencyMs: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Database did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([pool.query('SELECT 1'), timeout]);
    return { latencyMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}
