// The behaviour every JobQueue must have; run against each implementation (excluded from the build).
import { waitFor } from '@gatehouse/testing';
import { type JobContext, type JobQueue } from './job-queue';

/** Registers the JobQueue contract for one implementation. `factory` must return a fresh, empty queue. */
export function describeJobQueueContract(name: string, factory: () => JobQueue | Promise<JobQueue>): void {
  describe(`JobQueue contract: ${name}`, () => {
    let queue: JobQueue;

    beforeEach(async () => {
      queue = await factory();
    });

    afterEach(async () => {
      await queue.close();
    });

    it('runs an enqueued job with its data, as JSON, on the first attempt', async () => {
      const runs: { data: unknown; context: JobContext }[] = [];
      queue.process('send-email', async (data, context) => {
        runs.push({ data, context });
      });
      const id = await queue.enqueue('send-email', {
        to: 'a@example.com',
        at: new Date('2024-01-02T03:04:05.000Z'),
      });
      await waitFor(() => runs.length === 1, { what: 'job run' });
      expect(runs[0]).toEqual({
        data: { to: 'a@example.com', at: '2024-01-02T03:04:05.000Z' },
        context: { id, name: 'send-email', attempt: 1 },
      });
      expect(typeof id).toBe('string');
    });

    it('runs jobs enqueued before a handler is registered', async () => {
      await queue.enqueue('early', 1);
      await queue.enqueue('early', 2);
      const seen: number[] = [];
      queue.process<number>('early', async (n) => {
        seen.push(n);
      });
      await waitFor(() => seen.length === 2, { what: 'two jobs' });
      expect(seen).toEqual([1, 2]);
    });

    it('retries a failing job until it succeeds, with the attempt number', async () => {
      const attempts: number[] = [];
      queue.process('flaky', async (_data, { attempt }) => {
        attempts.push(attempt);
        if (attempt === 1) throw new Error('transient');
      });
      await queue.enqueue('flaky', {}, { backoffMs: 10 });
      await waitFor(() => attempts.length === 2, { what: 'second attempt' });
      expect(attempts).toEqual([1, 2]);
      expect(await queue.failedJobs('flaky')).toEqual([]);
    });

    it('backs off exponentially between attempts', async () => {
      const startedAt: number[] = [];
      queue.process('backoff', async () => {
        startedAt.push(Date.now());
        throw new Error('always');
      });
      await queue.enqueue('backoff', {}, { attempts: 3, backoffMs: 60 });
      await waitFor(async () => (await queue.failedJobs('backoff')).length === 1, { what: 'final failure' });
      const [first = 0, second = 0, third = 0] = startedAt;
      expect(second - first).toBeGreaterThanOrEqual(60);
      expect(third - second).toBeGreaterThanOrEqual(120);
    });

    it('records a job as failed once its attempts are used up (3 by default)', async () => {
      let calls = 0;
      queue.process('doomed', async () => {
        calls++;
        throw new Error(`boom ${calls}`);
      });
      const id = await queue.enqueue('doomed', { user: 'u1' }, { backoffMs: 1 });
      const [failed] = await waitFor(
        async () => {
          const jobs = await queue.failedJobs('doomed');
          return jobs.length > 0 ? jobs : undefined;
        },
        { what: 'failed job' },
      );
      expect(calls).toBe(3);
      expect(failed).toEqual({
        id,
        name: 'doomed',
        data: { user: 'u1' },
        attemptsMade: 3,
        error: 'boom 3',
        failedAt: expect.any(Date),
      });
    });

    it('does not run a delayed job before its delay', async () => {
      const delayMs = 200;
      let ranAt = 0;
      queue.process('later', async () => {
        ranAt = Date.now();
      });
      const enqueuedAt = Date.now();
      await queue.enqueue('later', {}, { delayMs });
      await waitFor(() => ranAt > 0, { what: 'delayed job' });
      expect(ranAt - enqueuedAt).toBeGreaterThanOrEqual(delayMs);
    });

    it('adds a job once per jobId, also after it completed', async () => {
      const seen: string[] = [];
      const first = await queue.enqueue('dedupe', 'first', { jobId: 'invoice-42' });
      const second = await queue.enqueue('dedupe', 'second', { jobId: 'invoice-42' });
      await queue.enqueue('dedupe', 'sentinel');
      expect([first, second]).toEqual(['invoice-42', 'invoice-42']);
      queue.process<string>('dedupe', async (data) => {
        seen.push(data);
      });
      // Jobs run in order with concurrency 1: once the sentinel ran, a duplicate would have too.
      await waitFor(() => seen.includes('sentinel'), { what: 'sentinel' });
      expect(await queue.enqueue('dedupe', 'third', { jobId: 'invoice-42' })).toBe('invoice-42');
      await queue.enqueue('dedupe', 'sentinel 2');
      await waitFor(() => seen.includes('sentinel 2'), { what: 'second sentinel' });
      expect(seen).toEqual(['first', 'sentinel', 'sentinel 2']);
    });

    it('runs up to `concurrency` jobs at once', async () => {
      let running = 0;
      let peak = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let done = 0;
      queue.process(
        'parallel',
        async () => {
          running++;
          peak = Math.max(peak, running);
          await gate;
          running--;
          done++;
        },
        { concurrency: 2 },
      );
      for (let i = 0; i < 4; i++) await queue.enqueue('parallel', i);
      await waitFor(() => running === 2, { what: 'two running jobs' });
      release();
      await waitFor(() => done === 4, { what: 'all jobs' });
      expect(peak).toBe(2);
    });

    it('waits for running jobs on close', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let started = false;
      let finished = false;
      queue.process('slow', async () => {
        started = true;
        await gate;
        finished = true;
      });
      await queue.enqueue('slow', {});
      await waitFor(() => started, { what: 'job start' });
      let closed = false;
      const closing = queue.close().then(() => (closed = true));
      // Give close() every chance to (wrongly) finish while the handler is blocked.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(closed).toBe(false);
      release();
      await closing;
      expect(finished).toBe(true);
      await expect(queue.enqueue('slow', {})).rejects.toThrow('closed');
    });

    it('rejects invalid names, ids, options and data', async () => {
      await expect(queue.enqueue('bad:name', {})).rejects.toThrow(RangeError);
      await expect(queue.enqueue('ok', {}, { jobId: '123' })).rejects.toThrow(RangeError);
      await expect(queue.enqueue('ok', {}, { jobId: 'a:b' })).rejects.toThrow(RangeError);
      await expect(queue.enqueue('ok', {}, { attempts: 0 })).rejects.toThrow(RangeError);
      await expect(queue.enqueue('ok', {}, { delayMs: -1 })).rejects.toThrow(RangeError);
      await expect(queue.enqueue('ok', undefined)).rejects.toThrow(TypeError);
      expect(() => queue.process('ok', async () => undefined, { concurrency: 0 })).toThrow(RangeError);
    });

    it('accepts one handler per name', () => {
      queue.process('single', async () => undefined);
      expect(() => queue.process('single', async () => undefined)).toThrow('already registered');
    });

    it('reports the jobs waiting per name (ready and delayed), not those done', async () => {
      await queue.enqueue('backlog', { n: 1 });
      await queue.enqueue('backlog', { n: 2 });
      await queue.enqueue('backlog', { n: 3 }, { delayMs: 60_000 });
      expect((await queue.depths()).backlog).toBe(3);
      const seen: number[] = [];
      queue.process<{ n: number }>('backlog', async ({ n }) => void seen.push(n));
      await waitFor(() => seen.length === 2, { what: 'ready jobs run' });
      await waitFor(async () => (await queue.depths()).backlog === 1, { what: 'depth after the run' });
    });

    it('answers ping', async () => {
      await expect(queue.ping()).resolves.toBeUndefined();
    });
  });
}
