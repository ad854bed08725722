import { migratedScratchDatabase } from './scratch-schema.test-support';
import { Prisma } from './generated/prisma/client';

describe('database constraints', () => {
  let db: Awaited<ReturnType<typeof migratedScratchDatabase>>;
  beforeAll(async () => {
    db = await migratedScratchDatabase();
  });
  afterAll(() => db.close());

  const uniqueViolation = (fields: string) =>
    expect.objectContaining({
      code: 'P2002',
      constructor: Prisma.PrismaClientKnownRequestError,
      message: expect.stringContaining(fields),
    });

  it('keeps e-mail addresses unique', async () => {
    await db.prisma.user.create({ data: { email: 'ada@example.com' } });
    await expect(db.prisma.user.create({ data: { email: 'ada@example.com' } })).rejects.toEqual(
      uniqueViolation('email'),
    );
  });

  it('refuses e-mail addresses that are not lower-cased (so uniqueness is case-insensitive)', async () => {
    await expect(db.prisma.user.create({ data: { email: 'Ada@Example.com' } })).rejects.toThrow(
      /users_email_lowercase/,
    );
  });

  it('keeps invoice numbers unique and stores money as minor units', async () => {
    const user = await db.prisma.user.create({ data: { email: 'billing@example.com' } });
    const invoice = {
      userId: user.id,
      currency: 'EUR',
      subtotalAmount: 1999,
      totalAmount: 1999,
      amountDue: 1999,
    };
    const created = await db.prisma.invoice.create({ data: { ...invoice, number: 'GH-2026-000001' } });
    expect(created).toMatchObject({ totalAmount: 1999, taxAmount: 0, status: 'DRAFT' });
    await expect(
      db.prisma.invoice.create({ data: { ...invoice, number: 'GH-2026-000001' } }),
    ).rejects.toEqual(uniqueViolation('number'));
  });

  it('generates uuid ids in the database and keeps refresh-token hashes unique', async () => {
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO users (email) VALUES ('raw@example.com') RETURNING id`,
    );
    expect(rows[0]?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const session = {
      userId: rows[0]!.id,
      refreshTokenHash: 'a'.repeat(64),
      expiresAt: new Date(Date.now() + 60_000),
    };
    const first = await db.prisma.session.create({ data: session });
    expect(first.familyId).toMatch(/^[0-9a-f-]{36}$/);
    await expect(db.prisma.session.create({ data: session })).rejects.toEqual(
      uniqueViolation('refresh_token_hash'),
    );
  });
});
