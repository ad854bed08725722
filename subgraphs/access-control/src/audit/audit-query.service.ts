import { AUDIT_OUTCOMES, type AuditOutcome } from '@gatehouse/audit';
import { AppError, ErrorCode } from '@gatehouse/errors';
import { decodeKeysetCursor, encodeKeysetCursor, isUuid } from '@gatehouse/service';
import type { AuditLogFilter, AuditLogPosition, AuditLogRepository } from './audit-log.repository';
import { AuditErrorCode } from './error-codes';

/** Largest page of {@link AuditQueryService.list}. */
export const MAX_AUDIT_PAGE_SIZE = 100;
/** Page size when `first` is not given. */
export const DEFAULT_AUDIT_PAGE_SIZE = 50;
/** Rows per database round trip of {@link AuditQueryService.batches} by default. */
export const DEFAULT_AUDIT_BATCH_SIZE = 1000;
/** Longest accepted `search` term; longer ones are refused rather than silently cut. */
export const MAX_AUDIT_SEARCH_LENGTH = 200;
/** Most actions one filter may list. */
export const MAX_AUDIT_FILTER_ACTIONS = 50;

/** The filter as callers (GraphQL arguments, query strings) give it; {@link parseAuditLogFilter} validates it. */
export interface AuditLogFilterInput {
  actorUserId?: string | null;
  impersonatorUserId?: string | null;
  /** One action. Combined with `actions` (any of them matches). */
  action?: string | null;
  actions?: readonly string[] | null;
  targetType?: string | null;
  targetId?: string | null;
  outcome?: string | null;
  /** Inclusive; a Date or an ISO 8601 string. */
  from?: Date | string | null;
  /** Exclusive; a Date or an ISO 8601 string. */
  to?: Date | string | null;
  /** Case-insensitive substring of the action, target id, IP, user agent, request id or metadata. */
  search?: string | null;
}

/** One audit entry as the admin API shows it. */
export interface AuditLogEntry {
  id: string;
  createdAt: Date;
  action: string;
  /** From `metadata.outcome`; null for rows written without one. */
  outcome: AuditOutcome | null;
  actorUserId: string | null;
  impersonatorUserId: string | null;
  targetType: string | null;
  targetId: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
  /** Free-form facts (already free of secrets: the writer drops them), including `outcome`. */
  metadata: Record<string, unknown>;
}

/** A Relay-style page of audit entries. */
export interface AuditLogConnection {
  edges: Array<{ cursor: string; node: AuditLogEntry }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Paging arguments of {@link AuditQueryService.list}. */
export interface AuditPageArgs {
  /** 1..{@link MAX_AUDIT_PAGE_SIZE}; default {@link DEFAULT_AUDIT_PAGE_SIZE}. */
  first?: number | null;
  /** `endCursor` of the previous page. */
  after?: string | null;
}

/** Read-only queries over the audit trail for administrators. Nothing here changes or removes a row. */
export interface AuditQueryService {
  /**
   * One page, newest first. Keyset pagination on (created_at DESC, id DESC): rows written while a client pages
   * appear before its first page, never shifting or duplicating the rows of later pages.
   * @throws AppError BAD_USER_INPUT with reason AUDIT_FILTER_INVALID, AUDIT_PAGE_SIZE_INVALID or AUDIT_CURSOR_INVALID.
   */
  list(filter: AuditLogFilterInput | null | undefined, page?: AuditPageArgs): Promise<AuditLogConnection>;
  /**
   * Every matching entry, newest first, in batches of `batchSize` (one keyset query each), so a caller can stream
   * any range in bounded memory. Filters are validated before the first query.
   * @throws AppError BAD_USER_INPUT with reason AUDIT_FILTER_INVALID.
   */
  batches(
    filter: AuditLogFilterInput | null | undefined,
    options?: { batchSize?: number },
  ): AsyncIterable<AuditLogEntry[]>;
}

function invalid(reason: AuditErrorCode, message: string, field?: string): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, {
    details: field === undefined ? { reason } : { reason, field },
  });
}

/** `value` as a trimmed non-empty string, or undefined when absent or blank. */
function optionalText(value: string | null | undefined, field: string, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string')
    throw invalid(AuditErrorCode.AUDIT_FILTER_INVALID, `${field} must be a string`, field);
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (trimmed.length > max) {
    throw invalid(AuditErrorCode.AUDIT_FILTER_INVALID, `${field} must be at most ${max} characters`, field);
  }
  return trimmed;
}

function optionalUuid(value: string | null | undefined, field: string): string | undefined {
  const text = optionalText(value, field, 36);
  if (text !== undefined && !isUuid(text)) {
    throw invalid(AuditErrorCode.AUDIT_FILTER_INVALID, `${field} must be a UUID`, field);
  }
  return text?.toLowerCase();
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

function optionalDate(value: Date | string | null | undefined, field: string): Date | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const date = value instanceof Date ? value : ISO_DATE.test(value.trim()) ? new Date(value.trim()) : null;
  if (date === null || Number.isNaN(date.getTime())) {
    throw invalid(
      AuditErrorCode.AUDIT_FILTER_INVALID,
      `${field} must be an ISO 8601 date or date-time`,
      field,
    );
  }
  return date;
}

const ACTION = /^[A-Z][A-Z0-9_]{0,99}$/;

/**
 * Validates and normalises a filter: blank strings count as absent, user ids must be UUIDs, actions UPPER_SNAKE,
 * the outcome SUCCESS or FAILURE, dates ISO 8601 with `from` before `to`, the search at most 200 characters.
 * @throws AppError BAD_USER_INPUT with reason AUDIT_FILTER_INVALID and the offending `field`.
 */
export function parseAuditLogFilter(input: AuditLogFilterInput | null | undefined): AuditLogFilter {
  const filter: AuditLogFilter = {};
  if (!input) return filter;
  const actorUserId = optionalUuid(input.actorUserId, 'actorUserId');
  if (actorUserId !== undefined) filter.actorUserId = actorUserId;
  const impersonatorUserId = optionalUuid(input.impersonatorUserId, 'impersonatorUserId');
  if (impersonatorUserId !== undefined) filter.impersonatorUserId = impersonatorUserId;

  const actions = [...(input.action ? [input.action] : []), ...(input.actions ?? [])]
    .map((action) => optionalText(action, 'actions', 100))
    .filter((action): action is string => action !== undefined);
  if (actions.length > MAX_AUDIT_FILTER_ACTIONS) {
    throw invalid(
      AuditErrorCode.AUDIT_FILTER_INVALID,
      `at most ${MAX_AUDIT_FILTER_ACTIONS} actions`,
      'actions',
    );
  }
  if (actions.some((action) => !ACTION.test(action))) {
    throw invalid(AuditErrorCode.AUDIT_FILTER_INVALID, 'actions are UPPER_SNAKE names', 'actions');
  }
  if (actions.length > 0) filter.actions = [...new Set(actions)];

  const targetType = optionalText(input.targetType, 'targetType', 64);
  if (targetType !== undefined) filter.targetType = targetType;
  const targetId = optionalText(input.targetId, 'targetId', 256);
  if (targetId !== undefined) filter.targetId = targetId;

  const outcome = optionalText(input.outcome, 'outcome', 16)?.toUpperCase();
  if (outcome !== undefined) {
    if (!(AUDIT_OUTCOMES as readonly string[]).includes(outcome)) {
      throw invalid(AuditErrorCode.AUDIT_FILTER_INVALID, 'outcome must be SUCCESS or FAILURE', 'outcome');
    }
    filter.outcome = outcome as AuditOutcome;
  }

  const from = optionalDate(input.from, 'from');
  const to = optionalDate(input.to, 'to');
  if (from !== undefined && to !== undefined && from.getTime() > to.getTime()) {
    throw invalid(AuditErrorCode.AUDIT_FILTER_INVALID, 'from must not be after to', 'from');
  }
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;

  // The search term is not trimmed beyond blanks: leading or trailing spaces can be what someone looks for.
  if (input.search !== undefined && input.search !== null && input.search.trim() !== '') {
    if (input.search.length > MAX_AUDIT_SEARCH_LENGTH) {
      throw invalid(
        AuditErrorCode.AUDIT_FILTER_INVALID,
        `search must be at most ${MAX_AUDIT_SEARCH_LENGTH} characters`,
        'search',
      );
    }
    filter.search = input.search;
  }
  return filter;
}

/** Opaque cursor of a row: the shared keyset cursor ({@link encodeKeysetCursor}). */
export function encodeAuditCursor(position: AuditLogPosition): string {
  return encodeKeysetCursor(position);
}

/** @throws AppError BAD_USER_INPUT with reason AUDIT_CURSOR_INVALID when `cursor` was not made by {@link encodeAuditCursor}. */
export function decodeAuditCursor(cursor: string): AuditLogPosition {
  const position = decodeKeysetCursor(cursor);
  if (!position) throw invalid(AuditErrorCode.AUDIT_CURSOR_INVALID, 'Invalid cursor', 'after');
  return position;
}

function pageSize(first: number | null | undefined): number {
  if (first === undefined || first === null) return DEFAULT_AUDIT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_AUDIT_PAGE_SIZE) {
    throw invalid(
      AuditErrorCode.AUDIT_PAGE_SIZE_INVALID,
      `first must be an integer from 1 to ${MAX_AUDIT_PAGE_SIZE}`,
      'first',
    );
  }
  return first;
}

function toEntry(row: Awaited<ReturnType<AuditLogRepository['page']>>[number]): AuditLogEntry {
  const outcome = row.metadata?.outcome;
  return {
    id: row.id,
    createdAt: row.createdAt,
    action: row.action,
    outcome: outcome === 'SUCCESS' || outcome === 'FAILURE' ? outcome : null,
    actorUserId: row.actorUserId,
    impersonatorUserId: row.impersonatorUserId,
    targetType: row.targetType,
    targetId: row.targetId,
    ipAddress: row.ipAddress,
    userAgent: row.userAgent,
    requestId: row.requestId,
    metadata: row.metadata ?? {},
  };
}

/**
 * The admin audit queries over audit_logs, read through `repository` (`createAuditLogRepository`: on Prisma, or
 * on the pg pool under it).
 */
export function createAuditQueryService(repository: AuditLogRepository): AuditQueryService {
  return {
    async list(input, page = {}) {
      const filter = parseAuditLogFilter(input);
      const first = pageSize(page.first);
      const after = page.after ? decodeAuditCursor(page.after) : undefined;
      const rows = await repository.page(filter, first + 1, after);
      const edges = rows
        .slice(0, first)
        .map((row) => ({ cursor: encodeAuditCursor(row), node: toEntry(row) }));
      return {
        edges,
        pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },

    batches(input, options = {}) {
      const filter = parseAuditLogFilter(input);
      const batchSize = options.batchSize ?? DEFAULT_AUDIT_BATCH_SIZE;
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
        throw new RangeError(`batchSize must be an integer in 1..10000, got ${batchSize}`);
      }
      return {
        async *[Symbol.asyncIterator]() {
          let after: AuditLogPosition | undefined;
          for (;;) {
            const rows = await repository.page(filter, batchSize, after);
            if (rows.length > 0) yield rows.map(toEntry);
            if (rows.length < batchSize) return;
            const last = rows.at(-1)!;
            after = { createdAt: last.createdAt, id: last.id };
          }
        },
      };
    },
  };
}
