import type { PrismaClient } from '@gatehouse/db';
import { defaultPreference, isLockedCategory, type MailCategory } from './categories';

/** Whether a user accepts mail of a category; the worker asks before sending anything that can be switched off. */
export type EmailPreferenceCheck = (userId: string, category: MailCategory) => Promise<boolean>;

/**
 * Reads the user's EMAIL preference for `category` from `notification_preferences` (the account subgraph writes
 * it); without a row the category's default applies. Locked categories are always accepted, without a query.
 */
export function createEmailPreferenceCheck(prisma: PrismaClient): EmailPreferenceCheck {
  return async (userId, category) => {
    if (isLockedCategory(category)) return true;
    const row = await prisma.notificationPreference.findUnique({
      where: { userId_channel_category: { userId, channel: 'EMAIL', category } },
      select: { enabled: true },
    });
    return row?.enabled ?? defaultPreference('EMAIL', category);
  };
}
