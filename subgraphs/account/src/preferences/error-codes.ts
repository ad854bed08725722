/**
 * Reasons attached to notification-preference and unsubscribe failures: `extensions.details.reason` in GraphQL
 * (next to `extensions.code`), `error` in the JSON of the unsubscribe route. Stable across releases.
 */
export const PreferenceErrorCode = {
  /** BAD_USER_INPUT: security and account mail cannot be switched off. */
  PREFERENCE_LOCKED: 'PREFERENCE_LOCKED',
  /** 400: the unsubscribe link is malformed or its signature is wrong. */
  UNSUBSCRIBE_LINK_INVALID: 'UNSUBSCRIBE_LINK_INVALID',
  /** 400: the unsubscribe link is older than 90 days. */
  UNSUBSCRIBE_LINK_EXPIRED: 'UNSUBSCRIBE_LINK_EXPIRED',
  /** 410: the unsubscribe link was used already (each link works once). */
  UNSUBSCRIBE_LINK_USED: 'UNSUBSCRIBE_LINK_USED',
} as const;

export type PreferenceErrorCode = (typeof PreferenceErrorCode)[keyof typeof PreferenceErrorCode];
