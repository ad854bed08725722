import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { createUserRepository } from './user.repository';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

async function newUser(data: { status?: 'ACTIVE' | 'SUSPENDED'; emailVerified?: boolean } = {}) {
  return db.prisma.user.create({
    data: { email: `${crypto.randomUUID()}@example.test`, ...data },
    select: { id: true, email: true, emailVerified: true, status: true, createdAt: true },
  });
}

const byId = <T extends { id: string }>(rows: T[]) => [...rows].sort((a, b) => a.id.localeCompare(b.id));

describe('user repository: findByIds', () => {
  it('reads the same models through the pool fast path as through Prisma', async () => {
    const active = await newUser({ status: 'ACTIVE', emailVerified: true });
    const pending = await newUser();
    const suspended = await newUser({ status: 'SUSPENDED' });
    const deleted = await newUser();
    await db.prisma.user.update({ where: { id: deleted.id }, data: { deletedAt: new Date() } });
    const ids = [active.id, pending.id, suspended.id, deleted.id, crypto.randomUUID(), 'not-a-uuid'];

    const throughPrisma = await createUserRepository(db.prisma).findByIds(ids);
    const throughPool = await createUserRepository(db.prisma, db.pool).findByIds(ids);

    // Deleted, unknown and malformed ids are skipped; dates stay Dates, statuses the enum's strings.
    expect(byId(throughPool)).toEqual(byId([active, pending, suspended]));
    expect(byId(throughPool)).toEqual(byId(throughPrisma));
    expect(throughPool.every((user) => user.createdAt instanceof Date)).toBe(true);
  });

  it('asks nothing for an empty or all-malformed list', async () => {
    const pool = {
      query: () => Promise.reject(new Error('no query expected')),
    } as unknown as Parameters<typeof createUserRepository>[1]; // a pool that must not be used
    await expect(createUserRepository(db.prisma, pool).findByIds([])).resolves.toEqual([]);
    await expect(createUserRepository(db.prisma, pool).findByIds(['x', '1 OR 1=1'])).resolves.toEqual([]);
  });
});
