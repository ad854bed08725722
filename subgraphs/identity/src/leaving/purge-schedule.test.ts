import { MemoryJobQueue, RedisJobQueue, type JobQueue } from '@gatehouse/jobs';
import { deleteRedisKeys, redisUrlForTests, uniqueTestPrefix, waitFor } from '@gatehouse/testing';
import type { LeavingService, PurgeResult } from './leaving.service';
import { ACCOUNT_PURGE_JOB, purgeJobId, startPurgeSchedule, type PurgeSchedule } from './purge-schedule';

// The job queues are real (in-process, and BullMQ on Redis); the purge is a recording stand-in for our own
// LeavingService, since what is under test is when and how often it runs (purge.test.ts tests the purge itself).

jest.setTimeout(30_000);

const DAY_MS = 24 * 60 * 60 * 1000;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const redisUrl = redisUrlForTests('@gatehouse/subgraph-identity purge schedule');
const redisPrefix = uniqueTestPrefix();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterAll(async () => {
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

function recordingPurge(result: PurgeResult = { purged: 0, failed: 0 }) {
  const runs: Date[] = [];
  const leaving: Pick<LeavingService, 'purgeDeleted'> = {
    purgeDeleted: async () => {
      runs.push(new Date());
      return result;
    },
  };
  return { runs, leaving };
}

describe('purgeJobId', () => {
  it('names the UTC day, without the ":" job ids may not contain', () => {
    expect(purgeJobId(new Date('2031-03-01T23:59:59.999Z'))).toBe('account-purge-2031-03-01');
    expect(purgeJobId(new Date('2031-03-02T00:00:00.000Z'))).toBe('account-purge-2031-03-02');
  });
});

describe('startPurgeSchedule with the in-process queue', () => {
  const queues: JobQueue[] = [];
  const schedules: PurgeSchedule[] = [];
  afterEach(async () => {
    schedules.splice(0).forEach((schedule) => schedule.stop());
    await Promise.all(queues.splice(0).map((queue) => queue.close()));
  });

  it('runs the purge once per day however often the day is enqueued, and not after stop()', async () => {
    const jobQueue = new MemoryJobQueue({ logger: quiet });
    queues.push(jobQueue);
    const clock = { now: new Date('2031-03-01T10:00:00Z') };
    const { runs, leaving } = recordingPurge();
    const schedule = startPurgeSchedule({
      jobQueue,
      leaving,
      logger: quiet,
      intervalMs: 15,
      now: () => clock.now,
    });
    schedules.push(schedule);

    await waitFor(() => runs.length === 1, { what: 'the first run' });
    expect(await schedule.enqueueToday()).toBe('account-purge-2031-03-01');
    expect(await schedule.enqueueToday()).toBe('account-purge-2031-03-01');
    await sleep(100); // several timer checks
    expect(runs).toHaveLength(1);

    clock.now = new Date(clock.now.getTime() + DAY_MS);
    await waitFor(() => runs.length === 2, { what: "the next day's run" });
    await sleep(100);
    expect(runs).toHaveLength(2);

    schedule.stop();
    clock.now = new Date(clock.now.getTime() + DAY_MS);
    await sleep(100);
    expect(runs).toHaveLength(2);
  });

  it('retries a run that could not purge everyone, then keeps it as failed', async () => {
    const jobQueue = new MemoryJobQueue({ logger: quiet });
    queues.push(jobQueue);
    const { runs, leaving } = recordingPurge({ purged: 3, failed: 1 });
    schedules.push(
      startPurgeSchedule({
        jobQueue,
        leaving,
        logger: quiet,
        retryBackoffMs: 5,
        now: () => new Date('2031-03-01T10:00:00Z'),
      }),
    );
    const failed = await waitFor(async () => (await jobQueue.failedJobs(ACCOUNT_PURGE_JOB)).at(0), {
      what: 'the failed job',
    });
    expect(runs).toHaveLength(3);
    expect(failed).toMatchObject({
      id: 'account-purge-2031-03-01',
      attemptsMade: 3,
      data: { day: '2031-03-01' },
    });
    expect(failed.error).toContain('purging 1 deleted account(s) failed');
  });
});

if (redisUrl) {
  describe('startPurgeSchedule with Redis (BullMQ)', () => {
    it('two replicas sharing the queue run the purge once per day', async () => {
      const prefix = `${redisPrefix}:replicas`;
      const replicas = [0, 1].map(() => new RedisJobQueue({ redisUrl, prefix, logger: quiet }));
      const clock = { now: new Date('2031-03-01T10:00:00Z') };
      const { runs, leaving } = recordingPurge();
      const schedules = replicas.map((jobQueue) =>
        startPurgeSchedule({ jobQueue, leaving, logger: quiet, intervalMs: 50, now: () => clock.now }),
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
