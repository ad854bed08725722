/**
 * Mutation root fields rate-limited as `auth`: the ones an attacker repeats to guess a credential (password,
 * MFA or backup code, reset or verification token, OAuth code) or to make Gatehouse send mail or SMS on their
 * behalf. protection.test.ts reads every subgraph's schema.graphql and fails when one of these no longer exists,
 * or when a mutation takes a credential-like argument ({@link CREDENTIAL_ARGUMENT}, in its arguments or their
 * input types) and is neither here nor in {@link NOT_AUTH_DESPITE_CREDENTIAL_ARGUMENT}: a new password- or
 * code-checking mutation cannot be left in the generous `write` class by oversight.
 */
export const AUTH_ROOT_FIELDS: ReadonlySet<string> = new Set([
  // Sign-up, sign-in and its second step.
  'register',
  'login',
  'verifyMfa',
  'sendMfaCode',
  'completeOAuthLogin',
  'completeOAuthLink',
  // Tokens from mailed links, and the mails that carry them.
  'requestPasswordReset',
  'resetPassword',
  'verifyEmail',
  'resendVerificationEmail',
  'confirmEmailChange',
  'reactivateAccount',
  // Signed in, but checking the current password: an attacker holding a stolen access token guesses it here.
  'changePassword',
  'requestEmailChange',
  'deactivateAccount',
  'deleteAccount',
  'regenerateBackupCodes',
  'disableMfa',
  'enrollTotp',
  'enrollSmsMfa',
  'enrollEmailMfa',
  // One-time codes of a factor being enrolled, and the code sends.
  'confirmTotp',
  'confirmSmsMfa',
  'confirmEmailMfa',
  'sendMfaVerificationCode',
]);

/** An argument or input field name that carries a password, a one-time code or a secret token. */
export const CREDENTIAL_ARGUMENT = /password|^code$|token$|^otp$|backupcode/i;

/**
 * Mutations with a credential-like argument that are deliberately not in the `auth` class, and why.
 * protection.test.ts fails when one of them disappears, so the list cannot rot.
 */
export const NOT_AUTH_DESPITE_CREDENTIAL_ARGUMENT: Readonly<Record<string, string>> = {
  refreshToken:
    'a 256-bit random, single-use refresh token cannot be guessed; every client rotates it every few minutes',
  logout: 'ends the session of a refresh token (unguessable); nothing to learn by repeating it',
  addPaymentMethod: 'paymentMethodToken is a Stripe PaymentMethod id, not a secret of the account',
  createPlan: "the plan's `code` is its public machine name (administrators only)",
};
