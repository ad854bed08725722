/**
 * Reasons the admin API attaches to errors as `extensions.details.reason`, next to the generic `extensions.code`.
 * Stable across releases: clients may switch on them.
 */
export const AdminErrorCode = {
  /** No live (not deleted) user has this id. */
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  /** An administrator cannot suspend, delete or impersonate themselves through the admin API. */
  CANNOT_TARGET_SELF: 'CANNOT_TARGET_SELF',
  /**
   * CONFLICT: suspending or deleting this user would leave no active account holding the `admin` role. Grant
   * `admin` to someone else first.
   */
  LAST_ADMIN: 'LAST_ADMIN',
  /** The target holds `admin` or `roles:manage`: impersonating them would hand out those rights. */
  IMPERSONATION_TARGET_FORBIDDEN: 'IMPERSONATION_TARGET_FORBIDDEN',
  /** Only an active account can be impersonated. */
  IMPERSONATION_TARGET_INACTIVE: 'IMPERSONATION_TARGET_INACTIVE',
  /** The impersonation reason is missing, too short or too long. */
  IMPERSONATION_REASON_INVALID: 'IMPERSONATION_REASON_INVALID',
  /** `endImpersonation` was called with a token that is not an impersonation token. */
  NOT_IMPERSONATING: 'NOT_IMPERSONATING',
  /** The `after` cursor was not made by `adminUsers`. */
  USER_CURSOR_INVALID: 'USER_CURSOR_INVALID',
  /** `first` is outside 1..200, or a filter value is malformed. */
  USER_FILTER_INVALID: 'USER_FILTER_INVALID',
} as const;

export type AdminErrorCode = (typeof AdminErrorCode)[keyof typeof AdminErrorCode];
