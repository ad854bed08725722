import { rule } from 'graphql-shield';
import { allow, isAuthenticated, isSelfOrAdmin, or, type PermissionMap } from '@gatehouse/service';
import type { Context } from './context';

/**
 * The user this very request just proved to be (signed in, refreshed, verified the email of): the request
 * itself is still anonymous, but the payload's `user` belongs to the caller.
 */
const isJustAuthenticatedUser = rule('isJustAuthenticatedUser', { cache: 'no_cache' })(
  (parent: { id?: unknown } | null | undefined, _args: unknown, ctx: Context) =>
    typeof parent?.id === 'string' && ctx.authenticatedUserIds.has(parent.id),
);

/**
 * Deny by default: every field not listed here is refused. `User` fields are readable by the user
 * themselves and by administrators, however the user was reached (`me`, `user`, `_entities`, `AuthPayload.user`).
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
    changePassword: isAuthenticated,
    verifyMfa: allow,
    sendMfaCode: allow,
    enrollTotp: isAuthenticated,
    confirmTotp: isAuthenticated,
    enrollSmsMfa: isAuthenticated,
    confirmSmsMfa: isAuthenticated,
    enrollEmailMfa: isAuthenticated,
    confirmEmailMfa: isAuthenticated,
    sendMfaVerificationCode: isAuthenticated,
    regenerateBackupCodes: isAuthenticated,
    disableMfa: isAuthenticated,
    startOAuth: allow,
    completeOAuthLogin: allow,
    linkOAuthAccount: isAuthenticated,
    completeOAuthLink: isAuthenticated,
    unlinkOAuthAccount: isAuthenticated,
    deactivateAccount: isAuthenticated,
    deleteAccount: isAuthenticated,
    requestEmailChange: isAuthenticated,
    reactivateAccount: allow,
    confirmEmailChange: allow,
  },
  User: { '*': or(isSelfOrAdmin, isJustAuthenticatedUser) },
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
};
