/**
 * Reasons the audit queries and the audit export attach to errors (`extensions.details.reason` in GraphQL, the
 * `error` member of the export's JSON error bodies). Stable across releases: clients may switch on them.
 */
export const AuditErrorCode = {
  /** A filter value is malformed (not a UUID, an unknown outcome, an unparsable date, `from` after `to`, ...). */
  AUDIT_FILTER_INVALID: 'AUDIT_FILTER_INVALID',
  /** `first` is not an integer in 1..100. */
  AUDIT_PAGE_SIZE_INVALID: 'AUDIT_PAGE_SIZE_INVALID',
  /** `after` is not a cursor this service issued. */
  AUDIT_CURSOR_INVALID: 'AUDIT_CURSOR_INVALID',
  /** The export's `format` is neither `csv` nor `json`. */
  AUDIT_EXPORT_FORMAT_INVALID: 'AUDIT_EXPORT_FORMAT_INVALID',
} as const;

export type AuditErrorCode = (typeof AuditErrorCode)[keyof typeof AuditErrorCode];
