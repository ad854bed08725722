import { hashToken } from '@gatehouse/crypto';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { createPasswordResetTokenRepository } from './password-reset-token.repository';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const HOUR = 3600_000;

async function newUser(): Promise<string> {
  const user = await db.prisma.user.create({ data: { email: `${crypto.randomUUID()}@example.test` } });
  return user.id;
}

it('keeps only the newest unconsumed token of a user', async () => {
  const repository = createPasswordResetTokenRepository(db.prisma);
  const userId = await newUser();
  const now = new Date();
  const expiresAt = new Date(now.getTime() + HOUR);
  await repository.replaceForUser({ userId, tokenHash: hashToken('first'), expiresAt, requestedIp: null });
  await repository.replaceForUser({
    userId,
    tokenHash: hashToken('second'),
    expiresAt,
    requestedIp: '203.0.113.7',
  });
  expect(await repository.find(hashToken('first'), now)).toEqual({ status: 'unknown' });
  expect(await repository.find(hashToken('second'), now)).toEqual({ status: 'valid', userId });
});

it('consumes a token exactly once, even when two uses race', async () => {
  const repository = createPasswordResetTokenRepository(db.prisma);
  const userId = await newUser();
  const now = new Date();
  const tokenHash = hashToken(crypto.randomUUID());
  await repository.replaceForUser({
    userId,
    tokenHash,
    expiresAt: new Date(now.getTime() + HOUR),
    requestedIp: null,
  });
  const outcomes = await Promise.all([
    repository.consume(tokenHash, now),
    repository.consume(tokenHash, now),
  ]);
  expect(outcomes.map((o) => o.status).sort()).toEqual(['used', 'valid']);
  expect(await repository.find(tokenHash, now)).toEqual({ status: 'used' });
});

it('refuses an expired token without consuming it, and knows nothing of an unknown one', async () => {
  const repository = createPasswordResetTokenRepository(db.prisma);
  const userId = await newUser();
  const now = new Date();
  const tokenHash = hashToken(crypto.randomUUID());
  await repository.replaceForUser({
    userId,
    tokenHash,
    expiresAt: new Date(now.getTime() - 1),
    requestedIp: null,
  });
  expect(await repository.consume(tokenHash, now)).toEqual({ status: 'expired' });
  expect(await repository.find(tokenHash, now)).toEqual({ status: 'expired' });
  expect(await repository.consume(hashToken('never issued'), now)).toEqual({ status: 'unknown' });
});
