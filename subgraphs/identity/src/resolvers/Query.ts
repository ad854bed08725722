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
};
