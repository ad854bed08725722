/**
 * Mutation root fields rate-limited as `auth`: the ones an attacker repeats to guess a credential (password,
 * MFA code, reset or verification token, OAuth code) or to make Gatehouse send mail or SMS on their behalf.
 * Names from subgraphs/identity/schema.graphql; protection.test.ts fails when one no longer exists there.
 */
export const AUTH_ROOT_FIELDS: ReadonlySet<string> = new Set([
  'register',
  'login',
  'verifyMfa',
  'sendMfaCode',
  'requestPasswordReset',
  'resetPassword',
  'changePassword',
  'verifyEmail',
  'resendVerificationEmail',
  'completeOAuthLogin',
  'completeOAuthLink',
  'confirmEmailChange',
  'reactivateAccount',
]);
