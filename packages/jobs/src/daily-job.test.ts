import { dailyJobId, startDailyEnqueue } from './daily-job';
import { MemoryJobQueue } from './memory-job-queue';

const quiet = { warn: () => undefined, info: () => undefined, error: () => undefined };

describe('startDailyEnqueue', () => {
  it('queues one job per UTC day however often and by however many replicas it is asked', async () => {
    const queue = new MemoryJobQueue({ logger: quiet });
    const days: string[] = [];
    queue.process<{ day: string }>('nightly', async (job) => void days.push(job.day));
    const clock = { now: new Date('2031-05-01T23:59:00Z') };
    const replicas = [1, 2].map(() =>
      startDailyEnqueue({
        jobQueue: queue,
        name: 'nightly',
        payload: (day) => ({ day }),
        logger: quiet,
        now: () => clock.now,
      }),
    );
    try {
      await Promise.all(replicas.map((replica) => replica.enqueueToday()));
      expect(await replicas[0]!.enqueueToday()).toBe(dailyJobId('nightly', clock.now));
      clock.now = new Date('2031-05-02T00:01:00Z');
      await replicas[1]!.enqueueToday();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(days.sort()).toEqual(['2031-05-01', '2031-05-02']);
    } finally {
      for (const replica of replicas) replica.stop();
      await queue.close();
    }
  });

  it('names jobs by UTC day and refuses a non-positive interval', () => {
    expect(dailyJobId('account-purge', new Date('2031-12-31T23:30:00-02:00'))).toBe(
      'account-purge-2032-01-01',
    );
    expect(() =>
      startDailyEnqueue({
        jobQueue: new MemoryJobQueue({ logger: quiet }),
        name: 'x',
        payload: () => ({}),
        logger: quiet,
        intervalMs: 0,
      }),
    ).toThrow(RangeError);
  });
});
