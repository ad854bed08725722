import type { QueryResolvers } from '../generated/graphql';

export const Query: QueryResolvers = {
  me: (_parent, _args, { users }) => users.viewer(),
  user: (_parent, { id }, { users }) => users.byId(id),
  async mySessions(_parent, _args, { identity, viewer }) {
    if (!viewer) return [];
    const sessions = await identity.signIn.mySessions(viewer);
    return sessions.map((session) => ({
      id: session.sessionId,
      current: session.current,
      deviceType: session.deviceType,
      deviceName: session.deviceName,
      os: session.os,
      browser: session.browser,
      ipAddress: session.ipAddress,
      country: session.country,
      city: session.city,
      signedInAt: session.signedInAt,
      lastActivityAt: session.lastActivityAt,
      expiresAt: session.expiresAt,
    }));
  },
  async myMfa(_parent, _args, { identity, viewer }) {
    if (!viewer) throw new Error('myMfa reached without a viewer');
    const status = await identity.mfa.status(viewer.userId);
    return {
      enabled: status.enabled,
      backupCodesRemaining: status.backupCodesRemaining,
      factors: status.factors.map((factor) => ({
        id: factor.id,
        type: factor.type,
        destination: factor.destination,
        verifiedAt: factor.verifiedAt,
        lastUsedAt: factor.lastUsedAt,
      })),
    };
  },
  async myOAuthAccounts(_parent, _args, { identity, viewer }) {
    if (!viewer) return [];
    const linked = await identity.oauth.listLinked(viewer.userId);
    return linked.map((account) => ({
      provider: account.provider,
      email: account.email,
      linkedAt: account.linkedAt,
    }));
  },
  oauthProviders: (_parent, _args, { identity }) =>
    identity.oauth.providers().map(({ key, displayName }) => ({ key, displayName })),
};
