import { AppError, ErrorCode } from '@gatehouse/errors';
import type { MfaMethod, MutationResolvers } from '../generated/graphql';
import type { IssuedTokens, SignInResult } from '../sign-in';
import type { Context } from '../context';
import { MfaErrorCode } from '../mfa';

async function authPayload(tokens: IssuedTokens, ctx: Context) {
  ctx.authenticatedUserIds.add(tokens.userId);
  const user = await ctx.loaders.userById.load(tokens.userId);
  if (!user) throw new Error('Signed-in user disappeared');
  return {
    accessToken: tokens.accessToken,
    accessTokenExpiresAt: tokens.accessTokenExpiresAt,
    refreshToken: tokens.refreshToken,
    refreshTokenExpiresAt: tokens.refreshTokenExpiresAt,
    user,
  };
}

function enrollmentResult(result: { backupCodes: string[] | null }) {
  // A confirmed factor always leaves MFA on: the first one turns it on, later ones keep it.
  return { mfaEnabled: true, backupCodes: result.backupCodes };
}

async function loginResult(result: SignInResult, ctx: Context) {
  if ('mfa' in result) {
    return {
      __typename: 'MfaChallenge' as const,
      mfaToken: result.mfa.mfaToken,
      methods: result.mfa.methods as MfaMethod[],
      expiresAt: result.mfa.expiresAt,
    };
  }
  return { __typename: 'AuthPayload' as const, ...(await authPayload(result.tokens, ctx)) };
}

/**
 * The `gatehouse_logins_total` outcome of what a first factor led to. Classified on the service's result union
 * (`{ mfa }` or `{ tokens }`), not on the GraphQL shape: a challenge is not a sign-in yet.
 */
const firstFactorOutcome = (result: SignInResult): 'mfa_required' | 'success' =>
  'mfa' in result ? 'mfa_required' : 'success';

/** Counts one sign-in step by `method` (`password`, `oauth`, `mfa`): its outcome, or `failure` when it throws. */
async function countedLogin<T>(
  ctx: Context,
  method: string,
  step: () => Promise<T>,
  outcome: (result: T) => string,
): Promise<T> {
  const logins = ctx.metrics?.business.logins;
  try {
    const result = await step();
    logins?.inc({ outcome: outcome(result), method });
    return result;
  } catch (err) {
    logins?.inc({ outcome: 'failure', method });
    throw err;
  }
}

/** The shield rule of these mutations guarantees a viewer; this only narrows the type. */
function viewerOf(ctx: Context) {
  if (!ctx.viewer) throw new Error('reached without a viewer');
  return ctx.viewer;
}

export const Mutation: MutationResolvers = {
  async register(_parent, { input }, { identity, client, metrics }) {
    const result = await identity.registration.register(input, client);
    metrics?.business.registrations.inc({ method: 'password' });
    return result;
  },
  async verifyEmail(_parent, { token }, ctx) {
    const user = await ctx.identity.registration.verifyEmail(token, ctx.client);
    ctx.authenticatedUserIds.add(user.id);
    return user;
  },
  async resendVerificationEmail(_parent, { email }, { identity }) {
    await identity.registration.resendVerificationEmail(email);
    return true;
  },
  async login(_parent, { input }, ctx) {
    const result = await countedLogin(
      ctx,
      'password',
      () => ctx.identity.signIn.login(input, ctx.client),
      firstFactorOutcome,
    );
    return loginResult(result, ctx);
  },
  async verifyMfa(_parent, { mfaToken, code }, ctx) {
    const { backupCodesRemaining, ...tokens } = await countedLogin(
      ctx,
      'mfa',
      () => ctx.identity.signIn.verifyMfa(mfaToken, code, ctx.client),
      () => 'success',
    );
    return { ...(await authPayload(tokens, ctx)), backupCodesRemaining };
  },
  async sendMfaCode(_parent, { mfaToken, method }, { identity, client }) {
    if (method !== 'SMS' && method !== 'EMAIL') {
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'Only SMS and EMAIL codes are sent', {
        details: { reason: MfaErrorCode.MFA_METHOD_UNAVAILABLE },
      });
    }
    return identity.mfa.sendChallengeCode(mfaToken, method, client);
  },
  enrollTotp: async (_parent, { password }, ctx) => {
    const { userId } = viewerOf(ctx);
    await ctx.identity.mfa.reauthenticate(userId, password, ctx.client);
    const { secret, otpauthUri, qrCodeDataUrl } = await ctx.identity.mfa.enrollTotp(userId);
    return { secret, otpauthUri, qrCode: qrCodeDataUrl };
  },
  confirmTotp: async (_parent, { code }, ctx) =>
    enrollmentResult(await ctx.identity.mfa.confirmTotp(viewerOf(ctx).userId, code, ctx.client)),
  async enrollSmsMfa(_parent, { phoneNumber, password }, ctx) {
    const { userId } = viewerOf(ctx);
    await ctx.identity.mfa.reauthenticate(userId, password, ctx.client);
    return ctx.identity.mfa.enrollSms(userId, phoneNumber, ctx.client);
  },
  confirmSmsMfa: async (_parent, { code }, ctx) =>
    enrollmentResult(await ctx.identity.mfa.confirmSms(viewerOf(ctx).userId, code, ctx.client)),
  async enrollEmailMfa(_parent, { password }, ctx) {
    const { userId } = viewerOf(ctx);
    await ctx.identity.mfa.reauthenticate(userId, password, ctx.client);
    return ctx.identity.mfa.enrollEmail(userId, ctx.client);
  },
  async sendMfaVerificationCode(_parent, { method }, ctx) {
    if (method !== 'SMS' && method !== 'EMAIL') {
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'Only SMS and EMAIL codes are sent', {
        details: { reason: MfaErrorCode.MFA_METHOD_UNAVAILABLE },
      });
    }
    return ctx.identity.mfa.sendVerificationCode(viewerOf(ctx).userId, method, ctx.client);
  },
  confirmEmailMfa: async (_parent, { code }, ctx) =>
    enrollmentResult(await ctx.identity.mfa.confirmEmail(viewerOf(ctx).userId, code, ctx.client)),
  regenerateBackupCodes: (_parent, { password }, ctx) =>
    ctx.identity.mfa.regenerateBackupCodes(viewerOf(ctx).userId, password, ctx.client),
  async disableMfa(_parent, { password, code }, ctx) {
    const viewer = viewerOf(ctx);
    await ctx.identity.mfa.disable(viewer.userId, viewer.sessionId ?? null, password, code, ctx.client);
    return true;
  },
  async startOAuth(_parent, { provider, redirectUri }, { identity, client }) {
    const { authorizationUrl, state } = await identity.oauth.start({
      provider,
      redirectUri,
      binding: 'client',
      client,
    });
    return { authorizationUrl, state };
  },
  completeOAuthLogin: async (_parent, { code, state }, ctx) =>
    loginResult(
      await countedLogin(
        ctx,
        'oauth',
        () => ctx.identity.signIn.completeOAuthLogin(code, state, ctx.client, ctx.oauthBrowserBinding),
        firstFactorOutcome,
      ),
      ctx,
    ),
  async linkOAuthAccount(_parent, { provider, redirectUri }, ctx) {
    const { authorizationUrl, state } = await ctx.identity.oauth.start({
      provider,
      redirectUri,
      binding: 'client',
      linkUserId: viewerOf(ctx).userId,
      client: ctx.client,
    });
    return { authorizationUrl, state };
  },
  async completeOAuthLink(_parent, { code, state }, ctx) {
    const linked = await ctx.identity.oauth.completeLink(code, state, viewerOf(ctx).userId, ctx.client);
    return { provider: linked.provider, email: linked.email, linkedAt: linked.linkedAt };
  },
  async deactivateAccount(_parent, { password }, ctx) {
    await ctx.identity.leaving.deactivate(viewerOf(ctx).userId, password, ctx.client);
    return true;
  },
  async reactivateAccount(_parent, { token }, ctx) {
    const { userId } = await ctx.identity.leaving.reactivate(token, ctx.client);
    ctx.authenticatedUserIds.add(userId);
    const user = await ctx.loaders.userById.load(userId);
    if (!user) throw new Error('Reactivated user disappeared');
    return user;
  },
  async deleteAccount(_parent, { password }, ctx) {
    const { purgeAt } = await ctx.identity.leaving.delete(viewerOf(ctx).userId, password, ctx.client);
    return purgeAt;
  },
  async requestEmailChange(_parent, { newEmail, password }, ctx) {
    await ctx.identity.emailChange.request(viewerOf(ctx), { newEmail, password }, ctx.client);
    return true;
  },
  async confirmEmailChange(_parent, { token }, ctx) {
    const user = await ctx.identity.emailChange.confirm(token, ctx.client);
    ctx.authenticatedUserIds.add(user.id);
    return user;
  },
  async unlinkOAuthAccount(_parent, { provider }, ctx) {
    await ctx.identity.oauth.unlink(viewerOf(ctx).userId, provider, ctx.client);
    return true;
  },
  async refreshToken(_parent, { refreshToken }, ctx) {
    return authPayload(await ctx.identity.signIn.refresh(refreshToken, ctx.client), ctx);
  },
  logout: (_parent, { refreshToken }, { identity, viewer, client }) =>
    identity.signIn.logout(refreshToken, viewer, client),
  async revokeSession(_parent, { id }, { identity, viewer, client }) {
    // The shield rule guarantees a viewer.
    if (!viewer) return false;
    await identity.signIn.revokeSession(viewer, id, client);
    return true;
  },
  revokeOtherSessions: (_parent, _args, { identity, viewer, client }) =>
    viewer ? identity.signIn.revokeOtherSessions(viewer, client) : 0,
  async requestPasswordReset(_parent, { email }, { identity, client }) {
    await identity.password.requestPasswordReset(email, client);
    return true;
  },
  resetPassword: (_parent, { input }, { identity, client }) =>
    identity.password.resetPassword(input.token, input.newPassword, client),
  async adminSetUserStatus(_parent, { userId, status }, ctx) {
    await ctx.identity.admin.setStatus(viewerOf(ctx), userId, status, ctx.client);
    const user = await ctx.loaders.userById.load(userId);
    if (!user) throw new Error('The user disappeared after a status change');
    return user;
  },
  adminDeleteUser: (_parent, { userId }, ctx) =>
    ctx.identity.admin.deleteUser(viewerOf(ctx), userId, ctx.client),
  adminRevokeSessions: (_parent, { userId }, ctx) =>
    ctx.identity.admin.revokeSessions(viewerOf(ctx), userId, ctx.client),
  async impersonate(_parent, { userId, reason }, ctx) {
    const started = await ctx.identity.admin.impersonate(viewerOf(ctx), userId, reason, ctx.client);
    const user = await ctx.loaders.userById.load(started.userId);
    if (!user) throw new Error('The impersonated user disappeared');
    return {
      accessToken: started.accessToken,
      expiresAt: started.expiresAt,
      sessionId: started.sessionId,
      user,
    };
  },
  async endImpersonation(_parent, _args, ctx) {
    await ctx.identity.admin.endImpersonation(viewerOf(ctx), ctx.client);
    return true;
  },
  async changePassword(_parent, { input }, { identity, viewer, client }) {
    // The shield rule guarantees a viewer.
    if (!viewer) throw new Error('changePassword reached without a viewer');
    return identity.password.changePassword(viewer, input, client);
  },
};
