import type { UserResolvers } from '../generated/graphql';
import { toProfile } from './profile-view';

export const User: UserResolvers = {
  // Identity owns users; this subgraph only needs the key, so resolving a reference costs no query.
  // `profile` loads through a DataLoader over the profile cache, batched across all references of the request.
  __resolveReference: (reference) => ({ id: reference.id }),
  async profile(user, _args, { profileLoader }) {
    const view = await profileLoader.load(user.id);
    return view ? toProfile(view) : null;
  },
  notificationPreferences: async (user, _args, { account }) =>
    (await account.preferences.get(user.id)).map(({ channel, category, enabled, locked }) => ({
      channel,
      category,
      enabled,
      locked,
    })),
  dataExports: async (user, _args, { account }) =>
    (await account.exports.list(user.id)).map(
      ({ id, status, requestedAt, completedAt, expiresAt, downloadUrl }) => ({
        id,
        status,
        requestedAt,
        completedAt,
        expiresAt,
        downloadUrl,
      }),
    ),
};
