/**
 * Reasons the identity subgraph attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code`. Stable across releases: clients may switch on them.
 */
export const IdentityErrorCode = {
  /** The viewer asked for another user's account without being an administrator. */
  USER_NOT_ACCESSIBLE: 'USER_NOT_ACCESSIBLE',
} as const;

export type IdentityErrorCode = (typeof IdentityErrorCode)[keyof typeof IdentityErrorCode];
