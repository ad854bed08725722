import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@gatehouse/config';
import { createEventBus, type EventBus } from '@gatehouse/events';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  startTestSmtpServer,
  testSecrets,
  uniqueTestPrefix,
  waitFor,
  type TestDatabase,
  type TestSmtpServer,
} from '@gatehouse/testing';
import { createServiceKit, type ServiceKit } from './service-kit';

const logger = createLogger({ name: 'service-kit-test', level: 'silent' });
const redisUrl = redisUrlForTests('service-kit');

let db: TestDatabase;
let smtp: TestSmtpServer;
let workDir: string;
const prefix = uniqueTestPrefix();
const kits: ServiceKit[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startTestSmtpServer();
  workDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-kit-'));
});

afterEach(async () => {
  for (const kit of kits.splice(0)) await kit.close();
});

afterAll(async () => {
  await smtp.close();
  await db.close();
  await rm(workDir, { recursive: true, force: true });
  if (redisUrl) await deleteRedisKeys(redisUrl, prefix);
});

function environment(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    ...testSecrets(),
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    SMTP_URL: smtp.url,
    STORAGE_DIR: path.join(workDir, 'storage'),
    ...overrides,
  };
}

function kitFor(env: NodeJS.ProcessEnv, shared?: { events?: EventBus }): ServiceKit {
  const kit = createServiceKit({
    prisma: db.prisma,
    logger,
    kv: new MemoryKeyValueStore(),
    env,
    redisPrefix: prefix,
    ...(shared ? { shared } : {}),
  });
  kits.push(kit);
  return kit;
}

describe('createServiceKit', () => {
  it('reads a concern only when the piece that needs it is first used', async () => {
    const { ENCRYPTION_KEYS: _unset, ...withoutKeys } = environment();
    const kit = kitFor(withoutKeys);

    // The bus needs no ENCRYPTION_KEYS: a process that never encrypts never has to configure them.
    await expect(kit.events.ping()).resolves.toBeUndefined();
    expect(() => kit.cipher).toThrow(ConfigError);
    expect(() => kit.cipher).toThrow(/ENCRYPTION_KEYS/);
  });

  it('builds each piece once', () => {
    const kit = kitFor(environment());
    expect(kit.events).toBe(kit.events);
    expect(kit.jobQueue).toBe(kit.jobQueue);
    expect(kit.settings).toBe(kit.settings);
    expect(kit.storage).toBe(kit.storage);
    expect(kit.cipher).toBe(kit.cipher);
    expect(kit.mail).toBe(kit.mail);
  });

  it('sends mail through its own queue and worker', async () => {
    const kit = kitFor(environment());
    await kit.mail.mailer.send({
      to: 'kit@example.test',
      template: 'verify-email',
      idempotencyKey: `kit-${prefix}`,
      data: { verifyUrl: 'http://127.0.0.1:4000/verify-email?token=t', expiresInHours: 24 },
    });
    const mail = await smtp.waitForMail((message) => message.to.includes('kit@example.test'));
    expect(mail.text).toContain('http://127.0.0.1:4000/verify-email?token=t');
  });

  it('closes what it built and leaves a shared bus open', async () => {
    const shared = createEventBus({ ...(redisUrl ? { redisUrl } : {}), prefix, logger });
    try {
      const kit = kitFor(environment(), { events: shared });
      expect(kit.events).toBe(shared);
      await kit.settings.ready;
      await kit.close();
      await kit.close(); // idempotent

      const received: unknown[] = [];
      await shared.subscribe('kit.after-close', (payload) => void received.push(payload));
      await shared.publish('kit.after-close', { still: 'open' });
      await waitFor(() => received.length === 1);
      expect(received).toEqual([{ still: 'open' }]);
    } finally {
      await shared.close();
    }
  });

  it('closes its own bus: iterators it handed out end', async () => {
    const kit = kitFor(environment());
    const iterator = kit.events.asyncIterableIterator('kit.closing');
    await iterator.ready;
    const next = iterator.next();
    await kit.close();
    await expect(next).resolves.toEqual({ done: true, value: undefined });
  });
});
