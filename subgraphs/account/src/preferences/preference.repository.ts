import type { PrismaClient } from '@gatehouse/db';
import type { MailCategory, NotificationChannel } from '@gatehouse/mail';

/** A stored choice; a missing one means the category's default. */
export interface StoredPreference {
  channel: NotificationChannel;
  category: string;
  enabled: boolean;
}

/** One choice to store. */
export interface PreferenceChange {
  channel: NotificationChannel;
  category: MailCategory;
  enabled: boolean;
}

/** What redeeming an unsubscribe link did. */
export type UnsubscribeOutcome =
  /** Receipt recorded and the preference switched off. */
  | 'unsubscribed'
  /** The link's `jti` has a receipt already: nothing changed. */
  | 'used'
  /** The user no longer exists: nothing to change. */
  | 'unknown-user';

export interface PreferenceRepository {
  findByUser(userId: string): Promise<StoredPreference[]>;
  /** Upserts every change in one transaction. */
  save(userId: string, changes: readonly PreferenceChange[]): Promise<void>;
  /**
   * Records the receipt of link `jti` and switches the preference off, in one transaction. Of two concurrent
   * calls with the same `jti` exactly one gets `unsubscribed` (the receipt's primary key decides).
   */
  redeemUnsubscribe(input: {
    jti: string;
    userId: string;
    channel: NotificationChannel;
    category: MailCategory;
  }): Promise<UnsubscribeOutcome>;
  /** True when link `jti` was used already (read-only). */
  isRedeemed(jti: string): Promise<boolean>;
}

/** The only place that touches `notification_preferences` and `unsubscribe_receipts`. */
export function createPreferenceRepository(prisma: PrismaClient): PreferenceRepository {
  return {
    findByUser: (userId) =>
      prisma.notificationPreference.findMany({
        where: { userId },
        select: { channel: true, category: true, enabled: true },
      }),

    async save(userId, changes) {
      await prisma.$transaction(
        changes.map(({ channel, category, enabled }) =>
          prisma.notificationPreference.upsert({
            where: { userId_channel_category: { userId, channel, category } },
            create: { userId, channel, category, enabled },
            update: { enabled },
          }),
        ),
      );
    },

    redeemUnsubscribe: ({ jti, userId, channel, category }) =>
      prisma.$transaction(async (tx) => {
        const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
        if (!user) return 'unknown-user';
        // ON CONFLICT DO NOTHING: a concurrent redeemer of the same link waits on the key, then inserts nothing.
        const { count } = await tx.unsubscribeReceipt.createMany({
          data: [{ id: jti, userId, channel, category }],
          skipDuplicates: true,
        });
        if (count === 0) return 'used';
        await tx.notificationPreference.upsert({
          where: { userId_channel_category: { userId, channel, category } },
          create: { userId, channel, category, enabled: false },
          update: { enabled: false },
        });
        return 'unsubscribed';
      }),

    async isRedeemed(jti) {
      const receipt = await prisma.unsubscribeReceipt.findUnique({
        where: { id: jti },
        select: { id: true },
      });
      return receipt !== null;
    },
  };
}
