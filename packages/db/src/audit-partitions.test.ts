import { migratedScratchDatabase } from './scratch-schema.test-support';
import { ensureAuditLogPartitions } from './audit-partitions';

type Db = Awaited<ReturnType<typeof migratedScratchDatabase>>;

/**
 * The UTC month the migration ran in, by the database's clock (the one `ensure_audit_log_partitions` reads),
 * not this process's: the partitions follow the server, whatever the day and whatever its clock says.
 */
let migratedMonth: Date;

/** audit_logs_YYYY_MM for the UTC month `offset` months after {@link migratedMonth}. */
function partitionName(offset: number): string {
  const month = new Date(Date.UTC(migratedMonth.getUTCFullYear(), migratedMonth.getUTCMonth() + offset, 1));
  return `audit_logs_${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
}

describe('audit_logs partitions', () => {
  let db: Db;
  beforeAll(async () => {
    db = await migratedScratchDatabase();
    const { rows } = await db.pool.query<{ month: Date }>(
      `SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month`,
    );
    migratedMonth = rows[0]!.month;
  });
  afterAll(() => db.close());

  const partitions = async () =>
    (
      await db.pool.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'audit_logs'::regclass ORDER BY 1`,
      )
    ).rows.map((r) => r.name);

  it('has this month, three months ahead and a default partition after migrating', async () => {
    expect(await partitions()).toEqual(
      expect.arrayContaining(['audit_logs_default', ...[0, 1, 2, 3].map(partitionName)]),
    );
  });

  it('routes rows by month, and rows beyond every partition into the default one', async () => {
    await db.prisma.auditLog.create({ data: { action: 'user.login', metadata: { ok: true } } });
    await db.prisma.auditLog.create({
      data: { action: 'far.future', createdAt: new Date('2999-01-15T00:00:00Z') },
    });
    const { rows } = await db.pool.query<{ partition: string; action: string }>(
      'SELECT tableoid::regclass::text AS partition, action FROM audit_logs ORDER BY created_at',
    );
    expect(rows).toEqual([
      { partition: partitionName(0), action: 'user.login' },
      { partition: 'audit_logs_default', action: 'far.future' },
    ]);
  });

  it('creates future partitions idempotently and moves matching rows out of the default partition', async () => {
    const first = await ensureAuditLogPartitions(db.pool, { monthsAhead: 6 });
    expect(first.created).toEqual([4, 5, 6].map(partitionName));
    expect((await ensureAuditLogPartitions(db.pool, { monthsAhead: 6 })).created).toEqual([]);

    await db.pool.query(
      `INSERT INTO audit_logs (action, created_at) VALUES ('later', '2999-03-02T00:00:00Z')`,
    );
    await db.pool.query(`SELECT create_audit_log_partition('2999-03-01')`);
    const { rows } = await db.pool.query<{ partition: string }>(
      `SELECT tableoid::regclass::text AS partition FROM audit_logs WHERE action = 'later'`,
    );
    expect(rows).toEqual([{ partition: 'audit_logs_2999_03' }]);
  });

  it('rejects a nonsensical monthsAhead', async () => {
    await expect(ensureAuditLogPartitions(db.pool, { monthsAhead: -1 })).rejects.toThrow(RangeError);
  });
});
