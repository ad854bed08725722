import { AppError, ErrorCode } from '@gatehouse/errors';

/**
 * Reasons this package attaches to errors as `extensions.details.reason`, next to the generic `extensions.code`.
 * Stable across releases: clients may switch on them.
 */
export const SettingsErrorCode = {
  /** BAD_USER_INPUT: no setting with this key is registered. */
  SETTING_UNKNOWN: 'SETTING_UNKNOWN',
  /** BAD_USER_INPUT: the value does not match the setting's schema; `details.issues` lists path and message. */
  SETTING_INVALID: 'SETTING_INVALID',
  /** BAD_USER_INPUT: the flag key or configuration is invalid; `details.issues` lists path and message. */
  FEATURE_FLAG_INVALID: 'FEATURE_FLAG_INVALID',
} as const;

export type SettingsErrorCode = (typeof SettingsErrorCode)[keyof typeof SettingsErrorCode];

/** One failing field: where (dot path, '' for the whole value) and what is wrong, never the value itself. */
export interface SettingsIssue {
  path: string;
  message: string;
}

/** The BAD_USER_INPUT AppError for `reason`, with `details = { reason, key, issues }`. */
export function settingsInputError(
  reason: SettingsErrorCode,
  message: string,
  key: string,
  issues: SettingsIssue[] = [],
): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, { details: { reason, key, issues } });
}

/** Zod issues as {@link SettingsIssue}s. */
export function issuesOf(error: {
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>;
}): SettingsIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}
