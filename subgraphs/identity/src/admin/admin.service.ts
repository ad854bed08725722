import type { UserStatus } from '@gatehouse/db';
import { AppError, ConflictError, ErrorCode, ForbiddenError, NotFoundError } from '@gatehouse/errors';
import {
  ADMIN_ROLE,
  decodeKeysetCursor,
  encodeKeysetCursor,
  type AccessTokenSigner,
  type Viewer,
} from '@gatehouse/service';
import { AuditAction, type AuditLog } from '../audit';
import type { UserModel } from '../models';
import type { AccountRepository } from '../users';
import type { ClientInfo } from '../client-info';
import { auditClientFields } from '../credentials';
import type { LeavingService } from '../leaving';
import type { ListedSession, SessionService } from '../sessions';
import { AdminErrorCode } from './error-codes';
import type {
  AdminUserFilter,
  AdminUserPosition,
  AdminUserRepository,
  LinkedAccountRow,
  UserSecurityFacts,
} from './admin-users.repository';
import { LAST_ADMIN } from './admin-users.repository';

/** Longest impersonation: an impersonation token and its session never outlive this. */
export const IMPERSONATION_TTL_SECONDS = 900;
/** Default and largest page of `adminUsers`. */
export const DEFAULT_USER_PAGE_SIZE = 50;
export const MAX_USER_PAGE_SIZE = 200;
/** The permission that makes a user too powerful to impersonate (besides the `admin` role). */
const ROLE_MANAGER_PERMISSION = 'roles:manage';
const REASON_MIN_LENGTH = 3;
const REASON_MAX_LENGTH = 500;
const SEARCH_MAX_LENGTH = 200;

/** A page of users with the cursor of each. */
export interface UserPage {
  edges: { cursor: string; node: UserModel }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** What `impersonate` hands the administrator. */
export interface Impersonation {
  accessToken: string;
  expiresAt: Date;
  sessionId: string;
  userId: string;
}

/**
 * The admin user API: listing, status, deletion, session revocation and impersonation. Authorization (the
 * `users:read` / `users:write` permissions, `notImpersonating`) is the shield's job; this service enforces what
 * depends on the target (not oneself, not a more powerful user) and audits every change with actor and impersonator.
 */
export interface AdminService {
  /**
   * A page of live users, newest first.
   * @throws AppError BAD_USER_INPUT: USER_CURSOR_INVALID, USER_FILTER_INVALID.
   */
  listUsers(filter: AdminUserFilter, first?: number | null, after?: string | null): Promise<UserPage>;
  /** Sign-in facts, by user id (one query for all). */
  securityFacts(userIds: readonly string[]): Promise<UserSecurityFacts[]>;
  /** Provider links, by user id (one query for all). */
  linkedAccounts(userIds: readonly string[]): Promise<LinkedAccountRow[]>;
  /** Live sessions of users (one query), each user's most recently active first. */
  sessionsOf(userIds: readonly string[]): Promise<ListedSession[]>;
  /**
   * Activates or suspends; suspending revokes every session. Audited USER_STATUS_CHANGED.
   * @throws NotFoundError USER_NOT_FOUND; AppError BAD_USER_INPUT CANNOT_TARGET_SELF; ConflictError LAST_ADMIN.
   */
  setStatus(
    viewer: Viewer,
    userId: string,
    status: Extract<UserStatus, 'ACTIVE' | 'SUSPENDED'>,
    client: ClientInfo,
  ): Promise<void>;
  /**
   * Deletes through the leaving service's admin path. @returns when the data is purged.
   * @throws NotFoundError USER_NOT_FOUND; AppError BAD_USER_INPUT CANNOT_TARGET_SELF; ConflictError LAST_ADMIN.
   */
  deleteUser(viewer: Viewer, userId: string, client: ClientInfo): Promise<Date>;
  /** Revokes every session of a user; @returns how many. Audited SESSIONS_REVOKED. @throws NotFoundError USER_NOT_FOUND. */
  revokeSessions(viewer: Viewer, userId: string, client: ClientInfo): Promise<number>;
  /**
   * Starts an impersonation: a dedicated session of the target ({@link IMPERSONATION_TTL_SECONDS}, outside the
   * session limit) and an access token for it carrying `act.sub` = the administrator. No refresh token.
   * Audited IMPERSONATION_STARTED (with the reason).
   * @throws AppError BAD_USER_INPUT IMPERSONATION_REASON_INVALID / CANNOT_TARGET_SELF; NotFoundError USER_NOT_FOUND;
   * ForbiddenError IMPERSONATION_TARGET_FORBIDDEN (admin or role manager), IMPERSONATION_TARGET_INACTIVE, and
   * IMPERSONATION_FORBIDDEN when the caller is impersonating (the shield refuses that first).
   */
  impersonate(viewer: Viewer, userId: string, reason: string, client: ClientInfo): Promise<Impersonation>;
  /**
   * Ends the impersonation of the calling token: its session is revoked (the token fails on the next request).
   * Audited IMPERSONATION_ENDED. @throws ForbiddenError NOT_IMPERSONATING for an ordinary token.
   */
  endImpersonation(viewer: Viewer, client: ClientInfo): Promise<void>;
}

export interface AdminServiceOptions {
  users: AdminUserRepository;
  accounts: Pick<AccountRepository, 'accessClaims'>;
  sessions: Pick<
    SessionService,
    'createSession' | 'listSessionsOfUsers' | 'revokeAllSessions' | 'revokeSession'
  >;
  leaving: Pick<LeavingService, 'deleteByAdmin'>;
  signer: AccessTokenSigner;
  audit: AuditLog;
  now?: () => Date;
}

function badInput(reason: AdminErrorCode, message: string): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, { details: { reason } });
}

const userNotFound = () =>
  new NotFoundError('User not found', { details: { reason: AdminErrorCode.USER_NOT_FOUND } });
const lastAdmin = () =>
  new ConflictError('This is the last active administrator: grant the admin role to someone else first', {
    details: { reason: AdminErrorCode.LAST_ADMIN },
  });

/** The shared keyset cursor ({@link encodeKeysetCursor}): opaque to clients, checked when read back. */
export function encodeUserCursor(user: Pick<UserModel, 'createdAt' | 'id'>): string {
  return encodeKeysetCursor(user);
}

/** @throws AppError BAD_USER_INPUT USER_CURSOR_INVALID when `cursor` was not made by {@link encodeUserCursor}. */
export function decodeUserCursor(cursor: string): AdminUserPosition {
  const position = decodeKeysetCursor(cursor);
  if (!position) throw badInput(AdminErrorCode.USER_CURSOR_INVALID, 'The cursor is not valid');
  return position;
}

function checkFilter(filter: AdminUserFilter): AdminUserFilter {
  const search = filter.search?.trim();
  if (search !== undefined && search.length > SEARCH_MAX_LENGTH) {
    throw badInput(AdminErrorCode.USER_FILTER_INVALID, `search is at most ${SEARCH_MAX_LENGTH} characters`);
  }
  const { createdFrom, createdTo } = filter;
  if (createdFrom && createdTo && createdFrom.getTime() > createdTo.getTime()) {
    throw badInput(AdminErrorCode.USER_FILTER_INVALID, 'createdFrom is after createdTo');
  }
  const checked: AdminUserFilter = { ...filter };
  if (search) checked.search = search;
  else delete checked.search;
  return checked;
}

export function createAdminService(options: AdminServiceOptions): AdminService {
  const { users, accounts, sessions, leaving, signer, audit } = options;
  const now = options.now ?? (() => new Date());

  function notSelf(viewer: Viewer, userId: string, what: string): void {
    if (viewer.userId === userId) {
      throw badInput(AdminErrorCode.CANNOT_TARGET_SELF, `You cannot ${what} your own account here`);
    }
  }

  async function existing(userId: string) {
    const target = await users.findTarget(userId);
    if (!target) throw userNotFound();
    return target;
  }

  /** The administrator is the actor of admin actions; an impersonator (refused by the shield) would be recorded. */
  const actorFields = (viewer: Viewer, client: ClientInfo) => ({
    actorUserId: viewer.userId,
    ...auditClientFields({ ...client, impersonatorUserId: viewer.impersonatorUserId ?? null }),
  });

  return {
    async listUsers(filter, first, after) {
      const size = first ?? DEFAULT_USER_PAGE_SIZE;
      if (!Number.isInteger(size) || size < 1 || size > MAX_USER_PAGE_SIZE) {
        throw badInput(
          AdminErrorCode.USER_FILTER_INVALID,
          `first must be between 1 and ${MAX_USER_PAGE_SIZE}`,
        );
      }
      const position = after ? decodeUserCursor(after) : undefined;
      // One extra row says whether another page follows, without a count.
      const rows = await users.page(checkFilter(filter), size + 1, position);
      const page = rows.slice(0, size);
      const edges = page.map((node) => ({ cursor: encodeUserCursor(node), node }));
      return {
        edges,
        pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },

    securityFacts: (userIds) => users.securityFacts(userIds),
    linkedAccounts: (userIds) => users.linkedAccounts(userIds),
    sessionsOf: (userIds) => sessions.listSessionsOfUsers(userIds),

    async setStatus(viewer, userId, status, client) {
      notSelf(viewer, userId, 'change the status of');
      const previous = await users.setStatus(userId, status);
      if (previous === null) throw userNotFound();
      if (previous === LAST_ADMIN) throw lastAdmin();
      const revoked = status === 'SUSPENDED' ? await sessions.revokeAllSessions(userId, 'ADMIN_REVOKED') : 0;
      await audit.record({
        action: AuditAction.USER_STATUS_CHANGED,
        outcome: 'SUCCESS',
        ...actorFields(viewer, client),
        targetType: 'User',
        targetId: userId,
        metadata: { from: previous, to: status, sessionsRevoked: revoked },
      });
    },

    async deleteUser(viewer, userId, client) {
      notSelf(viewer, userId, 'delete');
      await existing(userId);
      // A check before the deletion (not in its transaction): enough against the mistake, which is the risk here.
      if (await users.isLastActiveAdmin(userId)) throw lastAdmin();
      const { purgeAt } = await leaving.deleteByAdmin(userId, viewer.userId, {
        ...client,
        impersonatorUserId: viewer.impersonatorUserId ?? null,
      });
      return purgeAt;
    },

    async revokeSessions(viewer, userId, client) {
      await existing(userId);
      const revoked = await sessions.revokeAllSessions(userId, 'ADMIN_REVOKED');
      await audit.record({
        action: AuditAction.SESSIONS_REVOKED,
        outcome: 'SUCCESS',
        ...actorFields(viewer, client),
        targetType: 'User',
        targetId: userId,
        metadata: { sessionsRevoked: revoked, byAdmin: true },
      });
      return revoked;
    },

    async impersonate(viewer, userId, reason, client) {
      // Defence in depth: the shield's notImpersonating refuses this before it gets here.
      if (viewer.impersonatorUserId !== undefined) {
        throw new ForbiddenError('Not allowed while impersonating a user', {
          details: { reason: 'IMPERSONATION_FORBIDDEN' },
        });
      }
      const why = reason.trim();
      if (why.length < REASON_MIN_LENGTH || why.length > REASON_MAX_LENGTH) {
        throw badInput(
          AdminErrorCode.IMPERSONATION_REASON_INVALID,
          `Give a reason of ${REASON_MIN_LENGTH} to ${REASON_MAX_LENGTH} characters`,
        );
      }
      notSelf(viewer, userId, 'impersonate');
      const target = await existing(userId);
      const claims = await accounts.accessClaims(target.id);
      const refuse = async (code: AdminErrorCode, message: string) => {
        await audit.record({
          action: AuditAction.IMPERSONATION_STARTED,
          outcome: 'FAILURE',
          ...actorFields(viewer, client),
          targetType: 'User',
          targetId: target.id,
          metadata: { reason: code, justification: why },
        });
        return new ForbiddenError(message, { details: { reason: code } });
      };
      if (claims.roles.includes(ADMIN_ROLE) || claims.permissions.includes(ROLE_MANAGER_PERMISSION)) {
        throw await refuse(
          AdminErrorCode.IMPERSONATION_TARGET_FORBIDDEN,
          'Administrators and role managers cannot be impersonated',
        );
      }
      if (target.status !== 'ACTIVE') {
        throw await refuse(
          AdminErrorCode.IMPERSONATION_TARGET_INACTIVE,
          'Only an active account can be impersonated',
        );
      }
      const session = await sessions.createSession({
        userId: target.id,
        ip: client.ip,
        userAgent: client.userAgent,
        ttlSeconds: IMPERSONATION_TTL_SECONDS,
        exemptFromLimit: true,
      });
      // Computed before signing, so the token's own `exp` is never later than what the caller is told.
      const expiresAt = new Date(now().getTime() + IMPERSONATION_TTL_SECONDS * 1000);
      const accessToken = await signer.sign(
        {
          userId: target.id,
          email: target.email,
          roles: claims.roles,
          permissions: claims.permissions,
          sessionId: session.sessionId,
          impersonatorUserId: viewer.userId,
        },
        { ttlSeconds: IMPERSONATION_TTL_SECONDS },
      );
      await audit.record({
        action: AuditAction.IMPERSONATION_STARTED,
        outcome: 'SUCCESS',
        ...actorFields(viewer, client),
        targetType: 'User',
        targetId: target.id,
        metadata: { sessionId: session.sessionId, justification: why, expiresAt: expiresAt.toISOString() },
      });
      return { accessToken, expiresAt, sessionId: session.sessionId, userId: target.id };
    },

    async endImpersonation(viewer, client) {
      const { impersonatorUserId, sessionId } = viewer;
      if (impersonatorUserId === undefined || sessionId === undefined) {
        throw new ForbiddenError('This token is not an impersonation token', {
          details: { reason: AdminErrorCode.NOT_IMPERSONATING },
        });
      }
      // Already ended (a retry) is fine: the session is gone either way.
      await sessions.revokeSession(viewer.userId, sessionId, 'LOGOUT').catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) throw err;
      });
      await audit.record({
        action: AuditAction.IMPERSONATION_ENDED,
        outcome: 'SUCCESS',
        // Like every row the token produces: the user as actor, the administrator beside them.
        actorUserId: viewer.userId,
        ...auditClientFields({ ...client, impersonatorUserId }),
        targetType: 'User',
        targetId: viewer.userId,
        metadata: { sessionId },
      });
    },
  };
}
