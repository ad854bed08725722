import type { UserResolvers } from '../generated/graphql';
import type { ListedSession } from '../sessions';

/** The GraphQL shape of a session (the resolvers of `mySessions` and `User.sessions` share it). */
export function sessionView(session: ListedSession) {
  return {
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
  };
}

export const User: UserResolvers = {
  __resolveReference: (reference, { users }) => users.byReference(reference.id),
  // Admin-only facts come from their own batched loaders: the base user model never carries credentials state.
  mfaEnabled: async (user, _args, { loaders }) =>
    (await loaders.securityFactsByUserId.load(user.id))?.mfaEnabled ?? false,
  lastLoginAt: async (user, _args, { loaders }) =>
    (await loaders.securityFactsByUserId.load(user.id))?.lastLoginAt ?? null,
  lockedUntil: async (user, _args, { loaders }) =>
    (await loaders.securityFactsByUserId.load(user.id))?.lockedUntil ?? null,
  sessions: async (user, _args, { loaders }) =>
    (await loaders.sessionsByUserId.load(user.id)).map(sessionView),
  oauthAccounts: async (user, _args, { loaders }) =>
    (await loaders.linkedAccountsByUserId.load(user.id)).map(({ provider, email, linkedAt }) => ({
      provider,
      email,
      linkedAt,
    })),
};
