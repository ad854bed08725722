import type { MutationResolvers } from '../generated/graphql';
import type { IssuedTokens } from '../services/sign-in.service';
import type { Context } from '../context';

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

export const Mutation: MutationResolvers = {
  register: (_parent, { input }, { identity, client }) => identity.registration.register(input, client),
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
    const tokens = await ctx.identity.signIn.login(input, ctx.client);
    return { __typename: 'AuthPayload' as const, ...(await authPayload(tokens, ctx)) };
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
  async changePassword(_parent, { input }, { identity, viewer, client }) {
    // The shield rule guarantees a viewer.
    if (!viewer) throw new Error('changePassword reached without a viewer');
    return identity.password.changePassword(viewer, input, client);
  },
};
