import { rule } from 'graphql-shield';
import {
  allow,
  allowedWhileImpersonating,
  and,
  hasPermission,
  isAuthenticated,
  isSelf,
  isSelfOrAdmin,
  notImpersonating,
  or,
  type PermissionMap,
} from '@gatehouse/service';
import type { Context } from './context';

/**
 * The user this very request just proved to be (signed in, refreshed, verified the email of): the request
 * itself is still anonymous, but the payload's `user` belongs to the caller.
 */
const isJustAuthenticatedUser = rule('isJustAuthenticatedUser', { cache: 'no_cache' })(
  (parent: { id?: unknown } | null | undefined, _args: unknown, ctx: Context) =>
    typeof parent?.id === 'string' && ctx.authenticatedUserIds.has(parent.id),
);

/** Reading other users: the `users:read` permission, checked live (not the token's claim). */
const mayReadUsers = hasPermission('users:read');
/** Admin changes to users: `users:write`, never with an impersonation token. */
const mayWriteUsers = and(notImpersonating, hasPermission('users:write'));
/** Changes to one's own credentials, MFA, e-mail, linked providers or account: never while impersonated. */
const ownCredentialChange = notImpersonating;

/**
 * Deny by default: every field not listed here is refused. `User` fields are readable by the user
 * themselves, by administrators and by holders of `users:read`, however the user was reached (`me`, `user`,
 * `_entities`, `AuthPayload.user`, `adminUsers`); another user's sessions, provider links and sign-in facts need
 * `users:read` (the admin role alone, a token claim, is not enough for them).
 * No mutation works with an impersonation token (the service kit refuses it, `IMPERSONATION_FORBIDDEN`) except
 * those marked `allowedWhileImpersonating`, each with the reason it is safe; `notImpersonating` on the sensitive
 * ones stays as a second line.
 * Sign-up and sign-in mutations are open to anonymous callers; rate limiting them is the gateway's job.
 */
export const permissions: PermissionMap = {
  Query: {
    me: allow,
    user: isAuthenticated,
    mySessions: isAuthenticated,
    myMfa: isAuthenticated,
    myOAuthAccounts: isAuthenticated,
    oauthProviders: allow,
    adminUsers: mayReadUsers,
  },
  Mutation: {
    register: allow,
    verifyEmail: allow,
    resendVerificationEmail: allow,
    login: allow,
    refreshToken: allow,
    logout: allow,
    revokeSession: isAuthenticated,
    revokeOtherSessions: isAuthenticated,
    requestPasswordReset: allow,
    resetPassword: allow,
    changePassword: ownCredentialChange,
    verifyMfa: allow,
    sendMfaCode: allow,
    enrollTotp: ownCredentialChange,
    confirmTotp: ownCredentialChange,
    enrollSmsMfa: ownCredentialChange,
    confirmSmsMfa: ownCredentialChange,
    enrollEmailMfa: ownCredentialChange,
    confirmEmailMfa: ownCredentialChange,
    sendMfaVerificationCode: ownCredentialChange,
    regenerateBackupCodes: ownCredentialChange,
    disableMfa: ownCredentialChange,
    startOAuth: allow,
    completeOAuthLogin: allow,
    linkOAuthAccount: ownCredentialChange,
    completeOAuthLink: ownCredentialChange,
    unlinkOAuthAccount: ownCredentialChange,
    deactivateAccount: ownCredentialChange,
    deleteAccount: ownCredentialChange,
    requestEmailChange: ownCredentialChange,
    reactivateAccount: allow,
    confirmEmailChange: allow,
    adminSetUserStatus: mayWriteUsers,
    adminDeleteUser: mayWriteUsers,
    adminRevokeSessions: mayWriteUsers,
    impersonate: mayWriteUsers,
    // Only an impersonation token has something to end; the service refuses others (NOT_IMPERSONATING).
    endImpersonation: allowedWhileImpersonating(
      isAuthenticated,
      'revokes only the impersonation session itself, never a session of the user; the way out must stay open',
    ),
  },
  User: {
    '*': or(isSelfOrAdmin, mayReadUsers, isJustAuthenticatedUser),
    sessions: or(isSelf, mayReadUsers),
    oauthAccounts: or(isSelf, mayReadUsers),
    mfaEnabled: or(isSelf, mayReadUsers),
    lastLoginAt: or(isSelf, mayReadUsers),
    lockedUntil: or(isSelf, mayReadUsers),
  },
  Session: { '*': allow },
  FieldError: { '*': allow },
  RegisterPayload: { '*': allow },
  PasswordChangePayload: { '*': allow },
  AuthPayload: { '*': allow },
  MfaChallenge: { '*': allow },
  MfaCodeSent: { '*': allow },
  TotpEnrollment: { '*': allow },
  MfaEnrollmentResult: { '*': allow },
  MfaStatus: { '*': allow },
  MfaFactor: { '*': allow },
  OAuthProviderInfo: { '*': allow },
  OAuthStart: { '*': allow },
  LinkedOAuthAccount: { '*': allow },
  UserConnection: { '*': allow },
  UserEdge: { '*': allow },
  UserPageInfo: { '*': allow },
  ImpersonationPayload: { '*': allow },
};
