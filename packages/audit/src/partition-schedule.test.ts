import { MemoryJobQueue, RedisJobQueue, type JobQueue } from '@gatehouse/jobs';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  uniqueTestPrefix,
  waitFor,
  type TestDatabase,
} from '@gatehouse/testing';
import { createAuditWriter } from './audit-writer';
import {
  AUDIT_PARTITIONS_JOB,
  auditPartitionsJobId,
  startAuditPartitionSchedule,
  type AuditPartitionSchedule,
} from './partition-schedule';

// Real job queues (in-process and BullMQ on Redis) and the real SQL function in a real database.

jest.setTimeout(30_000);

const DAY_MS = 24 * 60 * 60 * 1000;
const redisUrl = redisUrlForTests('@gatehouse/audit partition schedule');
const redisPrefix = uniqueTestPrefix();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 3 });
});
afterAll(async () => {
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

/** A logger that keeps what each finished run reported. */
function recordingLogger() {
  const runs: Array<{ created: string[]; day: string }> = [];
  const warnings: object[] = [];
  return {
    runs,
    warnings,
    logger: {
      info: (details: object) => runs.push(details as { created: string[]; day: string }),
      warn: (details: object) => warnings.push(details),
    },
  };
}

/** `audit_logs_YYYY_MM` of the UTC month `offset` months from the database's now(). */
async function partitionName(offset: number): Promise<string> {
  const { rows } = await db.pool.query<{ name: string }>(
    `SELECT 'audit_logs_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => $1), 'YYYY_MM') AS name`,
    [offset],
  );
  return rows[0]!.name;
}

async function partitions(): Promise<string[]> {
  const { rows } = await db.pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = p.relnamespace
     WHERE p.relname = 'audit_logs' AND n.nspname = current_schema()`,
  );
  return rows.map((row) => row.name).sort();
}

describe('auditPartitionsJobId', () => {
  it('names the UTC day, without the ":" job ids may not contain', () => {
    expect(auditPartitionsJobId(new Date('2031-03-01T23:59:59.999Z'))).toBe('audit-partitions-2031-03-01');
    expect(auditPartitionsJobId(new Date('2031-03-02T00:00:00.000Z'))).toBe('audit-partitions-2031-03-02');
  });
});

describe('startAuditPartitionSchedule with the in-process queue', () => {
  const queues: JobQueue[] = [];
  const schedules: AuditPartitionSchedule[] = [];
  afterEach(async () => {
    schedules.splice(0).forEach((schedule) => schedule.stop());
    await Promise.all(queues.splice(0).map((queue) => queue.close()));
  });

  it('creates the missing partitions ahead of time and moves waiting rows out of the default partition', async () => {
    // The migration created this month through 3 months ahead; a row 5 months ahead waits in the default one.
    const fiveAhead = await partitionName(5);
    const [, year, month] = /(\d{4})_(\d{2})$/.exec(fiveAhead)!;
    await createAuditWriter(db.prisma).record({
      action: 'EARLY',
      outcome: 'SUCCESS',
      targetId: 'five-months-ahead',
      at: new Date(`${year}-${month}-15T00:00:00Z`),
    });
    const jobQueue = new MemoryJobQueue();
    queues.push(jobQueue);
    const { runs, logger } = recordingLogger();
    schedules.push(startAuditPartitionSchedule({ jobQueue, prisma: db.prisma, logger, monthsAhead: 6 }));

    await waitFor(() => runs.length === 1, { what: 'the first run' });
    const expected = await Promise.all([4, 5, 6].map(partitionName));
    expect(runs[0]!.created).toEqual(expected);
    expect(await partitions()).toEqual(expect.arrayContaining([...expected, 'audit_logs_default']));
    const { rows } = await db.pool.query<{ partition: string }>(
      `SELECT tableoid::regclass::text AS partition FROM audit_logs WHERE target_id = 'five-months-ahead'`,
    );
    expect(rows).toEqual([{ partition: expect.stringMatching(new RegExp(`${fiveAhead}$`)) }]);
  });

  it('runs once per day however often the day is enqueued, through a pg pool too, and not after stop()', async () => {
    const jobQueue = new MemoryJobQueue();
    queues.push(jobQueue);
    const clock = { now: new Date('2031-03-01T10:00:00Z') };
    const { runs, logger } = recordingLogger();
    const schedule = startAuditPartitionSchedule({
      jobQueue,
      pool: db.pool,
      logger,
      intervalMs: 15,
      now: () => clock.now,
    });
    schedules.push(schedule);

    await waitFor(() => runs.length === 1, { what: 'the first run' });
    expect(runs[0]).toMatchObject({ day: '2031-03-01', created: [] });
    expect(await schedule.enqueueToday()).toBe('audit-partitions-2031-03-01');
    await sleep(100);
    expect(runs).toHaveLength(1);

    clock.now = new Date(clock.now.getTime() + DAY_MS);
    await waitFor(() => runs.length === 2, { what: "the next day's run" });
    expect(runs[1]).toMatchObject({ day: '2031-03-02' });

    schedule.stop();
    clock.now = new Date(clock.now.getTime() + DAY_MS);
    await sleep(100);
    expect(runs).toHaveLength(2);
  });

  it('retries a failing run, then keeps it as failed', async () => {
    const jobQueue = new MemoryJobQueue({ logger: { warn: () => undefined, error: () => undefined } });
    queues.push(jobQueue);
    const { logger } = recordingLogger();
    let calls = 0;
    const failingPrisma = {
      $queryRaw: (() => {
        calls += 1;
        return Promise.reject(new Error('database unavailable'));
      }) as unknown as TestDatabase['prisma']['$queryRaw'],
    };
    schedules.push(
      startAuditPartitionSchedule({
        jobQueue,
        prisma: failingPrisma,
        logger,
        retryBackoffMs: 5,
        now: () => new Date('2031-03-01T10:00:00Z'),
      }),
    );
    const failed = await waitFor(async () => (await jobQueue.failedJobs(AUDIT_PARTITIONS_JOB)).at(0), {
      what: 'the failed job',
    });
    expect(calls).toBe(3);
    expect(failed).toMatchObject({
      id: 'audit-partitions-2031-03-01',
      attemptsMade: 3,
      data: { day: '2031-03-01', monthsAhead: 3 },
      error: 'database unavailable',
    });
  });

  it('refuses a nonsensical monthsAhead', () => {
    const jobQueue = new MemoryJobQueue();
    queues.push(jobQueue);
    const { logger } = recordingLogger();
    expect(() => startAuditPartitionSchedule({ jobQueue, pool: db.pool, logger, monthsAhead: -1 })).toThrow(
      RangeError,
    );
  });
});

if (redisUrl) {
  describe('startAuditPartitionSchedule with Redis (BullMQ)', () => {
    it('two replicas sharing the queue run the job once per day', async () => {
      const prefix = `${redisPrefix}:replicas`;
      const quiet = { warn: () => undefined, error: () => undefined };
      const replicas = [0, 1].map(() => new RedisJobQueue({ redisUrl, prefix, logger: quiet }));
      const clock = { now: new Date('2031-03-01T10:00:00Z') };
      const { runs, logger } = recordingLogger();
      const schedules = replicas.map((jobQueue, i) =>
        startAuditPartitionSchedule({
          jobQueue,
          ...(i === 0 ? { pool: db.pool } : { prisma: db.prisma }),
          logger,
          intervalMs: 50,
          now: () => clock.now,
        }),
      );
      try {
        await waitFor(() => runs.length === 1, { what: 'the first run', timeoutMs: 10_000 });
        await sleep(400);
        expect(runs).toHaveLength(1);

        clock.now = new Date(clock.now.getTime() + DAY_MS);
        await waitFor(() => runs.length === 2, { what: "the next day's run", timeoutMs: 10_000 });
        await sleep(400);
        expect(runs).toHaveLength(2);
      } finally {
        schedules.forEach((schedule) => schedule.stop());
        await Promise.all(replicas.map((queue) => queue.close()));
      }
    });
  });
}
