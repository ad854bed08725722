import { AppError, ErrorCode } from '@gatehouse/errors';

/**
 * Reasons the access-control subgraph attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code`. Stable across releases: clients may switch on them.
 */
export const AccessControlErrorCode = {
  /** CONFLICT: another role already has this name. */
  ROLE_NAME_TAKEN: 'ROLE_NAME_TAKEN',
  /** BAD_USER_INPUT: a permission key is not in the registry; `details.permissions` lists the unknown keys. */
  PERMISSION_UNKNOWN: 'PERMISSION_UNKNOWN',
  /** BAD_USER_INPUT: the new parent would make the role inherit from itself. */
  ROLE_CYCLE: 'ROLE_CYCLE',
  /** FORBIDDEN: system roles (`member`, `support`, `admin`) cannot be changed or deleted. */
  SYSTEM_ROLE_IMMUTABLE: 'SYSTEM_ROLE_IMMUTABLE',
  /** CONFLICT: the role is still held by users or inherited by other roles; `details` counts both. */
  ROLE_IN_USE: 'ROLE_IN_USE',
  /** NOT_FOUND: no role with this id (also for a parent that does not exist). */
  ROLE_NOT_FOUND: 'ROLE_NOT_FOUND',
  /** CONFLICT: the user already holds the role (an unexpired global grant). */
  ROLE_ALREADY_ASSIGNED: 'ROLE_ALREADY_ASSIGNED',
  /** NOT_FOUND: the user does not hold the role (no unexpired global grant). */
  ROLE_NOT_ASSIGNED: 'ROLE_NOT_ASSIGNED',
  /** NOT_FOUND: no user with this id (a deleted user included: they cannot be granted anything). */
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  /**
   * CONFLICT: the change would leave no active account holding the `admin` role (nobody could manage roles and
   * settings any more). Grant `admin` to someone else first.
   */
  LAST_ADMIN: 'LAST_ADMIN',
  /**
   * FORBIDDEN: the change would hand out a permission the acting user does not hold themselves (a role manager
   * cannot grant more than they have); `details.permissions` lists those keys.
   */
  PRIVILEGE_ESCALATION: 'PRIVILEGE_ESCALATION',
} as const;

export type AccessControlErrorCode = (typeof AccessControlErrorCode)[keyof typeof AccessControlErrorCode];

const codeOf: Record<AccessControlErrorCode, ErrorCode> = {
  ROLE_NAME_TAKEN: ErrorCode.CONFLICT,
  PERMISSION_UNKNOWN: ErrorCode.BAD_USER_INPUT,
  ROLE_CYCLE: ErrorCode.BAD_USER_INPUT,
  SYSTEM_ROLE_IMMUTABLE: ErrorCode.FORBIDDEN,
  ROLE_IN_USE: ErrorCode.CONFLICT,
  ROLE_NOT_FOUND: ErrorCode.NOT_FOUND,
  ROLE_ALREADY_ASSIGNED: ErrorCode.CONFLICT,
  ROLE_NOT_ASSIGNED: ErrorCode.NOT_FOUND,
  USER_NOT_FOUND: ErrorCode.NOT_FOUND,
  LAST_ADMIN: ErrorCode.CONFLICT,
  PRIVILEGE_ESCALATION: ErrorCode.FORBIDDEN,
};

/** JSON facts safe to show the caller next to the reason (never ids of things the caller may not see). */
export type AccessControlErrorFacts = Record<string, string | number | boolean | string[]>;

/**
 * The AppError for `reason`, with the generic code clients see in `extensions.code` (see the table above) and
 * `extensions.details = { reason, ...facts }`.
 */
export function accessControlError(
  reason: AccessControlErrorCode,
  message: string,
  facts: AccessControlErrorFacts = {},
): AppError {
  return new AppError(codeOf[reason], message, { details: { reason, ...facts } });
}
