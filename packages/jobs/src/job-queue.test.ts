import { deleteRedisKeys, redisUrlForTests, uniqueTestPrefix, waitFor } from '@gatehouse/testing';
import { createJobQueue } from './create-job-queue';
import { describeJobQueueContract } from './job-queue.contract';
import { MemoryJobQueue } from './memory-job-queue';
import { RedisJobQueue } from './redis-job-queue';

// The contract fails jobs on purpose; keep their error logs out of the test output.
const logger = { warn: () => undefined, error: () => undefined };

describeJobQueueContract('in-process', () => new MemoryJobQueue({ logger }));

const redisUrl = redisUrlForTests('@gatehouse/jobs');
if (redisUrl) {
  const prefix = uniqueTestPrefix();
  let queues = 0;
  // A fresh namespace per test keeps tests independent without flushing the shared Redis.
  describeJobQueueContract(
    'redis',
    () => new RedisJobQueue({ redisUrl, prefix: `${prefix}:${queues++}`, logger }),
  );
  afterAll(() => deleteRedisKeys(redisUrl, prefix));

  describe('RedisJobQueue', () => {
    it('hands a job enqueued by one instance to a worker of another', async () => {
      const producer = new RedisJobQueue({ redisUrl, prefix });
      const consumer = new RedisJobQueue({ redisUrl, prefix });
      try {
        const seen: unknown[] = [];
        consumer.process('handoff', async (data) => {
          seen.push(data);
        });
        await producer.enqueue('handoff', { n: 1 });
        await waitFor(() => seen.length === 1, { what: 'handoff' });
        expect(seen).toEqual([{ n: 1 }]);
      } finally {
        await Promise.all([producer.close(), consumer.close()]);
      }
    });

    it('is what createJobQueue returns for a redisUrl', async () => {
      const queue = createJobQueue({ redisUrl, prefix });
      expect(queue).toBeInstanceOf(RedisJobQueue);
      await queue.ping();
      await queue.close();
    });
  });
}

describe('MemoryJobQueue', () => {
  it('is what createJobQueue returns without a redisUrl', async () => {
    const queue = createJobQueue();
    expect(queue).toBeInstanceOf(MemoryJobQueue);
    await queue.close();
  });

  it('forgets the oldest failed jobs beyond failedJobsKept', async () => {
    const queue = new MemoryJobQueue({ failedJobsKept: 2, logger });
    queue.process<number>('fails', async () => {
      throw new Error('no');
    });
    for (let n = 1; n <= 3; n++) await queue.enqueue('fails', n, { attempts: 1 });
    const data = async () => (await queue.failedJobs('fails')).map((job) => job.data);
    await waitFor(async () => (await data())[0] === 3, { what: 'third failure' });
    expect(await data()).toEqual([3, 2]);
    await queue.close();
  });
});
