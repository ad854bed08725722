import type { QueryResolvers } from '../generated/graphql';
import { sessionView } from './User';

export const Query: QueryResolvers = {
  me: (_parent, _args, { users }) => users.viewer(),
  user: (_parent, { id }, { users }) => users.byId(id),
  async mySessions(_parent, _args, { identity, viewer }) {
    if (!viewer) return [];
    const sessions = await identity.signIn.mySessions(viewer);
    return sessions.map(sessionView);
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
  adminUsers: (_parent, { filter, first, after }, { identity }) =>
    identity.admin.listUsers(
      {
        ...(filter?.status ? { status: filter.status } : {}),
        ...(filter?.roleName ? { roleName: filter.roleName } : {}),
        ...(typeof filter?.emailVerified === 'boolean' ? { emailVerified: filter.emailVerified } : {}),
        ...(typeof filter?.mfaEnabled === 'boolean' ? { mfaEnabled: filter.mfaEnabled } : {}),
        ...(filter?.createdFrom ? { createdFrom: filter.createdFrom } : {}),
        ...(filter?.createdTo ? { createdTo: filter.createdTo } : {}),
        ...(filter?.search ? { search: filter.search } : {}),
      },
      first,
      after,
    ),
  oauthProviders: async (_parent, _args, { identity }) =>
    (await identity.oauth.providers()).map(({ key, displayName }) => ({ key, displayName })),
};
