import type { PrismaClient } from '@gatehouse/db';

/** One validated row of a gateway usage batch (see `api-usage.consumer.ts`). */
export interface ApiUsageEntry {
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  operation: string;
  operationType: string;
  outcome: string;
  count: number;
}

/** The `api_usage_daily` writes of the usage consumer. */
export interface ApiUsageRepository {
  /** Adds a batch's counts (see {@link recordApiUsage}). */
  record(batch: { entries: readonly ApiUsageEntry[] }): Promise<void>;
}

/**
 * Adds a batch to `api_usage_daily` in one statement. Entries with the same key are summed first: one INSERT ...
 * ON CONFLICT may not touch a row twice. Concurrent batches (several gateway replicas) add up, because each
 * conflicting row is updated to `count + EXCLUDED.count` under its row lock.
 */
export async function recordApiUsage(
  prisma: PrismaClient,
  batch: { entries: readonly ApiUsageEntry[] },
): Promise<void> {
  const { entries } = batch;
  if (entries.length === 0) return;
  await prisma.$executeRaw`
    INSERT INTO api_usage_daily AS u (day, operation, operation_type, outcome, count)
    SELECT day, operation, operation_type, outcome, sum(count)
      FROM unnest(
        ${entries.map((e) => e.day)}::date[],
        ${entries.map((e) => e.operation)}::text[],
        ${entries.map((e) => e.operationType)}::text[],
        ${entries.map((e) => e.outcome)}::text[],
        ${entries.map((e) => String(e.count))}::bigint[]
      ) AS b(day, operation, operation_type, outcome, count)
     GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, operation, operation_type, outcome) DO UPDATE SET count = u.count + EXCLUDED.count`;
}

/** The Prisma implementation of {@link ApiUsageRepository}. */
export function createApiUsageRepository(prisma: PrismaClient): ApiUsageRepository {
  return { record: (batch) => recordApiUsage(prisma, batch) };
}
