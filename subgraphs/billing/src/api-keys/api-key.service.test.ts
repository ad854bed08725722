import { createHash } from 'node:crypto';
import { createLogger } from '@gatehouse/logger';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { formatApiKey, parseApiKey } from './api-key-format';
import { createApiKeyRepository } from './api-key.repository';
import { LAST_USED_WRITE_INTERVAL_MS, createApiKeyService, type ApiKeyService } from './api-key.service';

const logger = createLogger({ name: 'api-key-test', level: 'silent' });
const START = new Date('2026-03-10T12:00:00.000Z');

let db: TestDatabase;
let clock: Date;
let service: ApiKeyService;

async function createUser(status: 'ACTIVE' | 'SUSPENDED' = 'ACTIVE'): Promise<string> {
  const user = await db.prisma.user.create({
    data: { email: `api-key-${Math.random().toString(36).slice(2)}@example.test`, status },
  });
  return user.id;
}

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 3 });
});

beforeEach(() => {
  clock = new Date(START);
  service = createApiKeyService({ apiKeys: createApiKeyRepository(db.prisma), logger, now: () => clock });
});

afterAll(async () => {
  await db?.close();
});

describe('api keys', () => {
  it('creates a key shown once and stores only the SHA-256 of it, audit-logged', async () => {
    const userId = await createUser();
    const { key, record } = await service.create(userId, { name: ' CI server ' });

    expect(key).toMatch(/^gh_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(record).toEqual({
      id: expect.any(String),
      name: 'CI server',
      prefix: parseApiKey(key)?.prefix,
      scopes: ['usage:write'],
      createdAt: START,
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
    });
    expect(JSON.stringify(record)).not.toContain(parseApiKey(key)?.secret);

    const row = await db.prisma.apiKey.findUniqueOrThrow({ where: { id: record.id } });
    expect(row.secretHash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(row.secretHash).not.toContain(parseApiKey(key)?.secret);

    const audit = await db.prisma.auditLog.findFirstOrThrow({
      where: { action: 'API_KEY_CREATED', targetId: record.id },
    });
    expect(audit.actorUserId).toBe(userId);
    expect(JSON.stringify(audit.metadata)).not.toContain(parseApiKey(key)?.secret);
  });

  it('verifies the exact key and nothing else', async () => {
    const userId = await createUser();
    const { key, record } = await service.create(userId, { name: 'worker', scopes: ['usage:write'] });
    const parts = parseApiKey(key)!;

    await expect(service.verify(key)).resolves.toEqual({ userId, keyId: record.id, scopes: ['usage:write'] });

    const lastChar = parts.secret.endsWith('A') ? 'B' : 'A';
    const tampered = formatApiKey({ prefix: parts.prefix, secret: parts.secret.slice(0, -1) + lastChar });
    await expect(service.verify(tampered)).resolves.toBeNull();
    const unknownPrefix = formatApiKey({ prefix: '0123456789abcdef', secret: parts.secret });
    await expect(service.verify(unknownPrefix)).resolves.toBeNull();
    for (const garbage of ['', 'gh_', `${key}x`, key.replace('gh_', 'gx_'), `gh_${parts.prefix}`]) {
      await expect(service.verify(garbage)).resolves.toBeNull();
    }
  });

  it('refuses a revoked key; only the owner can revoke (NOT_FOUND for others), idempotently', async () => {
    const owner = await createUser();
    const stranger = await createUser();
    const { key, record } = await service.create(owner, { name: 'to revoke' });

    await expect(service.revoke(stranger, record.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(service.verify(key)).resolves.not.toBeNull();

    clock = new Date(START.getTime() + 5000);
    const revoked = await service.revoke(owner, record.id);
    expect(revoked.revokedAt).toEqual(clock);
    await expect(service.verify(key)).resolves.toBeNull();

    clock = new Date(START.getTime() + 9000);
    await expect(service.revoke(owner, record.id)).resolves.toMatchObject({ revokedAt: revoked.revokedAt });
    await expect(service.revoke(owner, 'not-a-uuid')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(
      await db.prisma.auditLog.count({ where: { action: 'API_KEY_REVOKED', targetId: record.id } }),
    ).toBe(1);
  });

  it('refuses an expired key', async () => {
    const userId = await createUser();
    const expiresAt = new Date(START.getTime() + 60 * 60 * 1000);
    const { key } = await service.create(userId, { name: 'short-lived', expiresAt });

    clock = new Date(expiresAt.getTime() - 1);
    await expect(service.verify(key)).resolves.not.toBeNull();
    clock = new Date(expiresAt);
    await expect(service.verify(key)).resolves.toBeNull();
  });

  it('refuses the key of a suspended user', async () => {
    const userId = await createUser();
    const { key } = await service.create(userId, { name: 'owner will be blocked' });
    await db.prisma.user.update({ where: { id: userId }, data: { status: 'SUSPENDED' } });
    await expect(service.verify(key)).resolves.toBeNull();
  });

  it('writes lastUsedAt at most once a minute', async () => {
    const userId = await createUser();
    const { key, record } = await service.create(userId, { name: 'busy' });
    const lastUsed = async () =>
      (await db.prisma.apiKey.findUniqueOrThrow({ where: { id: record.id } })).lastUsedAt;

    await service.verify(key);
    expect(await lastUsed()).toEqual(START);

    clock = new Date(START.getTime() + LAST_USED_WRITE_INTERVAL_MS - 1000);
    await service.verify(key);
    expect(await lastUsed()).toEqual(START);

    clock = new Date(START.getTime() + LAST_USED_WRITE_INTERVAL_MS + 1000);
    await service.verify(key);
    expect(await lastUsed()).toEqual(clock);
  });

  it.each([
    ['an empty name', { name: '   ' }, 'name'],
    ['a name over 100 characters', { name: 'x'.repeat(101) }, 'name'],
    ['a scope outside the allow-list', { name: 'k', scopes: ['admin:all'] }, 'scopes.0'],
    ['no scopes', { name: 'k', scopes: [] }, 'scopes'],
    ['an expiry in the past', { name: 'k', expiresAt: new Date(START.getTime() - 1) }, 'expiresAt'],
  ])('refuses %s (BAD_USER_INPUT)', async (_label, input, path) => {
    const userId = await createUser();
    await expect(service.create(userId, input)).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      details: expect.arrayContaining([expect.objectContaining({ path })]),
    });
    expect(await db.prisma.apiKey.count({ where: { userId } })).toBe(0);
  });

  it('lists the owner’s keys newest first, revoked ones only on request', async () => {
    const userId = await createUser();
    const other = await createUser();
    const first = await service.create(userId, { name: 'first' });
    clock = new Date(START.getTime() + 1000);
    const second = await service.create(userId, { name: 'second' });
    await service.create(other, { name: 'not mine' });
    await service.revoke(userId, first.record.id);

    expect((await service.list(userId)).map((key) => key.name)).toEqual(['second']);
    expect((await service.list(userId, { includeRevoked: true })).map((key) => key.id)).toEqual([
      second.record.id,
      first.record.id,
    ]);
  });
});
