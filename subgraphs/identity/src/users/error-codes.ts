/**
 * Reasons the users feature (account reads, email change) attaches to errors as `extensions.details.reason`,
 * next to the generic `extensions.code`. Stable across releases: clients may switch on them.
 */
export const UserErrorCode = {
  /** The viewer asked for another user's account without being an administrator. */
  USER_NOT_ACCESSIBLE: 'USER_NOT_ACCESSIBLE',
} as const;

export type UserErrorCode = (typeof UserErrorCode)[keyof typeof UserErrorCode];
