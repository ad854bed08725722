import { AppError, ValidationError } from '@gatehouse/errors';
import { MAIL_CATEGORIES, NOTIFICATION_CHANNELS } from '@gatehouse/mail';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { PreferenceErrorCode } from './error-codes';
import type { PreferenceChange } from './preference.repository';
import { createPreferenceRepository } from './preference.repository';
import { createPreferenceService, type PreferenceService } from './preference.service';

let db: TestDatabase;
let service: PreferenceService;
const changed: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  service = createPreferenceService(createPreferenceRepository(db.prisma), {
    onChange: async (userId) => void changed.push(userId),
  });
});
afterAll(() => db?.close());

let counter = 0;
async function newUser(): Promise<string> {
  counter += 1;
  const user = await db.prisma.user.create({
    data: { email: `prefs${counter}@example.test`, status: 'ACTIVE' },
  });
  return user.id;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('PreferenceService.get', () => {
  it('returns the full matrix with the defaults: security/account locked on, billing on, product off', async () => {
    const matrix = await service.get(await newUser());
    expect(matrix).toHaveLength(NOTIFICATION_CHANNELS.length * MAIL_CATEGORIES.length);
    expect(matrix.map((entry) => `${entry.channel}:${entry.category}`)).toEqual(
      NOTIFICATION_CHANNELS.flatMap((channel) => MAIL_CATEGORIES.map((category) => `${channel}:${category}`)),
    );
    for (const entry of matrix) {
      expect(entry).toEqual({
        channel: entry.channel,
        category: entry.category,
        enabled: entry.category !== 'product',
        locked: entry.category === 'security' || entry.category === 'account',
        isDefault: true,
      });
    }
  });

  it('ignores stored rows for locked or unknown categories', async () => {
    const userId = await newUser();
    await db.prisma.notificationPreference.createMany({
      data: [
        { userId, channel: 'EMAIL', category: 'security', enabled: false },
        { userId, channel: 'EMAIL', category: 'legacy-newsletter', enabled: true },
      ],
    });
    const matrix = await service.get(userId);
    expect(matrix.find((e) => e.channel === 'EMAIL' && e.category === 'security')).toMatchObject({
      enabled: true,
      locked: true,
    });
    expect(matrix.some((e) => e.category === ('legacy-newsletter' as never))).toBe(false);
  });
});

describe('PreferenceService.update', () => {
  it('stores changes per channel and category and returns the new matrix', async () => {
    const userId = await newUser();
    const matrix = await service.update(userId, [
      { channel: 'EMAIL', category: 'product', enabled: true },
      { channel: 'SMS', category: 'billing', enabled: false },
      { channel: 'PUSH', category: 'product', enabled: false },
    ]);
    const cell = (channel: string, category: string) =>
      matrix.find((e) => e.channel === channel && e.category === category);
    expect(cell('EMAIL', 'product')).toMatchObject({ enabled: true, isDefault: false });
    expect(cell('SMS', 'billing')).toMatchObject({ enabled: false, isDefault: false });
    expect(cell('PUSH', 'product')).toMatchObject({ enabled: false, isDefault: false });
    expect(cell('EMAIL', 'billing')).toMatchObject({ enabled: true, isDefault: true });
    expect(changed).toContain(userId);

    const rows = await db.prisma.notificationPreference.findMany({
      where: { userId },
      orderBy: [{ channel: 'asc' }, { category: 'asc' }],
      select: { channel: true, category: true, enabled: true },
    });
    expect(rows).toEqual([
      { channel: 'EMAIL', category: 'product', enabled: true },
      { channel: 'SMS', category: 'billing', enabled: false },
      { channel: 'PUSH', category: 'product', enabled: false },
    ]);

    // Upsert: changing again updates the same row.
    await service.update(userId, [{ channel: 'EMAIL', category: 'product', enabled: false }]);
    expect(await db.prisma.notificationPreference.count({ where: { userId } })).toBe(3);
    expect(await service.get(userId)).toContainEqual({
      channel: 'EMAIL',
      category: 'product',
      enabled: false,
      locked: false,
      isDefault: false,
    });
  });

  it.each(['security', 'account'] as const)(
    'refuses to switch %s off (PREFERENCE_LOCKED), storing nothing',
    async (category) => {
      const userId = await newUser();
      const error = await caught(
        service.update(userId, [
          { channel: 'EMAIL', category: 'product', enabled: true },
          { channel: 'EMAIL', category, enabled: false },
        ]),
      );
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({
        code: 'BAD_USER_INPUT',
        details: { reason: PreferenceErrorCode.PREFERENCE_LOCKED, category },
      });
      expect(await db.prisma.notificationPreference.count({ where: { userId } })).toBe(0);
    },
  );

  it('accepts switching a locked category on, as a no-op', async () => {
    const userId = await newUser();
    const before = changed.length;
    const matrix = await service.update(userId, [{ channel: 'SMS', category: 'security', enabled: true }]);
    expect(matrix.find((e) => e.channel === 'SMS' && e.category === 'security')?.enabled).toBe(true);
    expect(await db.prisma.notificationPreference.count({ where: { userId } })).toBe(0);
    expect(changed.length).toBe(before);
  });

  it.each<[string, unknown]>([
    ['an unknown category', [{ channel: 'EMAIL', category: 'marketing', enabled: false }]],
    ['an unknown channel', [{ channel: 'FAX', category: 'product', enabled: false }]],
    ['a non-boolean', [{ channel: 'EMAIL', category: 'product', enabled: 'no' }]],
    ['an extra field', [{ channel: 'EMAIL', category: 'product', enabled: true, userId: 'x' }]],
    ['no change', []],
    [
      'the same cell twice',
      [
        { channel: 'EMAIL', category: 'product', enabled: true },
        { channel: 'EMAIL', category: 'product', enabled: false },
      ],
    ],
  ])('rejects %s as BAD_USER_INPUT', async (_what, changes) => {
    const userId = await newUser();
    const error = await caught(service.update(userId, changes as PreferenceChange[]));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await db.prisma.notificationPreference.count({ where: { userId } })).toBe(0);
  });
});
