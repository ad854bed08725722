import type pg from 'pg';

export interface EnsureAuditLogPartitionsOptions {
  /** Months after the current (UTC) one to create partitions for (default 3). */
  monthsAhead?: number;
}

/**
 * Creates missing monthly audit_logs partitions from this month through `monthsAhead` months ahead
 * (SQL function `ensure_audit_log_partitions`, from the init migration). Idempotent; call on start-up
 * and from a monthly job. Uses the pool's search_path, so a schema-bound pool works on its schema.
 */
export async function ensureAuditLogPartitions(
  pool: pg.Pool,
  { monthsAhead = 3 }: EnsureAuditLogPartitionsOptions = {},
): Promise<{ created: string[] }> {
  if (!Number.isInteger(monthsAhead) || monthsAhead < 0 || monthsAhead > 120) {
    throw new RangeError(`monthsAhead must be an integer in 0..120, got ${monthsAhead}`);
  }
  const { rows } = await pool.query<{ name: string }>('SELECT ensure_audit_log_partitions($1) AS name', [
    monthsAhead,
  ]);
  return { created: rows.map((r) => r.name) };
}
