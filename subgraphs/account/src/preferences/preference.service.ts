import { z } from 'zod';
import { AppError, ErrorCode, ValidationError } from '@gatehouse/errors';
import {
  MAIL_CATEGORIES,
  NOTIFICATION_CHANNELS,
  defaultPreference,
  isLockedCategory,
  isMailCategory,
  type MailCategory,
  type NotificationChannel,
} from '@gatehouse/mail';
import { PreferenceErrorCode } from './error-codes';
import type { PreferenceRepository } from './preference.repository';

/** One cell of the preference matrix. */
export interface NotificationPreferenceEntry {
  channel: NotificationChannel;
  category: MailCategory;
  enabled: boolean;
  /** Security and account notifications: always on, cannot be switched off. */
  locked: boolean;
  /** True when the user never chose and the category's default applies. */
  isDefault: boolean;
}

export interface PreferenceService {
  /**
   * The full matrix, every channel (EMAIL, SMS, PUSH, IN_APP) × every category (security, account, billing,
   * product), in that order. Defaults: security and account on and locked, billing on, product (marketing) off
   * until the user opts in.
   */
  get(userId: string): Promise<NotificationPreferenceEntry[]>;
  /**
   * Stores the changes (all or none) and returns the new matrix. Switching a locked category on is a no-op.
   * @throws ValidationError (BAD_USER_INPUT) for an unknown channel or category, a duplicate pair, or more than
   * one change per cell; AppError BAD_USER_INPUT `PREFERENCE_LOCKED` when switching security or account off.
   */
  /** `changes` is validated here (API input): unknown channels or categories are a ValidationError. */
  update(
    userId: string,
    changes: readonly { channel: string; category: string; enabled: boolean }[],
  ): Promise<NotificationPreferenceEntry[]>;
}

export interface PreferenceServiceOptions {
  /** Called after every change (e.g. to drop a cached profile that embeds the preferences). */
  onChange?: (userId: string) => Promise<void>;
}

const changesSchema = z
  .array(
    z.strictObject({
      channel: z.enum(NOTIFICATION_CHANNELS),
      category: z.enum(MAIL_CATEGORIES),
      enabled: z.boolean(),
    }),
  )
  .min(1)
  .max(NOTIFICATION_CHANNELS.length * MAIL_CATEGORIES.length)
  .superRefine((changes, context) => {
    const seen = new Set<string>();
    changes.forEach(({ channel, category }, index) => {
      const key = `${channel}:${category}`;
      if (seen.has(key)) {
        context.addIssue({
          code: 'custom',
          path: [index],
          message: 'changes this channel and category twice',
        });
      }
      seen.add(key);
    });
  });

/** A user's notification preferences per channel and category, stored in `notification_preferences`. */
export function createPreferenceService(
  repository: PreferenceRepository,
  options: PreferenceServiceOptions = {},
): PreferenceService {
  async function get(userId: string): Promise<NotificationPreferenceEntry[]> {
    const stored = new Map<string, boolean>();
    for (const row of await repository.findByUser(userId)) {
      if (isMailCategory(row.category)) stored.set(`${row.channel}:${row.category}`, row.enabled);
    }
    return NOTIFICATION_CHANNELS.flatMap((channel) =>
      MAIL_CATEGORIES.map((category): NotificationPreferenceEntry => {
        const locked = isLockedCategory(category);
        // A locked category is on whatever a row says (rows for it are never written, but be certain).
        const choice = locked ? undefined : stored.get(`${channel}:${category}`);
        return {
          channel,
          category,
          enabled: locked || (choice ?? defaultPreference(channel, category)),
          locked,
          isDefault: choice === undefined,
        };
      }),
    );
  }

  return {
    get,

    async update(userId, changes) {
      const parsed = changesSchema.safeParse(changes);
      if (!parsed.success) throw ValidationError.fromZod(parsed.error, 'Invalid notification preferences');
      const refused = parsed.data.find((change) => isLockedCategory(change.category) && !change.enabled);
      if (refused) {
        throw new AppError(
          ErrorCode.BAD_USER_INPUT,
          `${refused.category === 'security' ? 'Security' : 'Account'} notifications cannot be switched off`,
          { details: { reason: PreferenceErrorCode.PREFERENCE_LOCKED, category: refused.category } },
        );
      }
      const toStore = parsed.data.filter((change) => !isLockedCategory(change.category));
      if (toStore.length > 0) {
        await repository.save(userId, toStore);
        await options.onChange?.(userId);
      }
      return get(userId);
    },
  };
}
