import type { MutationResolvers } from '../generated/graphql';
import type { Context } from '../context';
import { toProfile } from './profile-view';

/** The shield rule of these mutations guarantees a viewer; this only narrows the type. */
function viewerOf(ctx: Context) {
  if (!ctx.viewer) throw new Error('reached without a viewer');
  return ctx.viewer;
}

export const Mutation: MutationResolvers = {
  async updateProfile(_parent, { input }, ctx) {
    const { userId } = viewerOf(ctx);
    const result = await ctx.account.profiles.update(userId, input);
    if ('fieldErrors' in result) return { profile: null, fieldErrors: result.fieldErrors };
    ctx.profileLoader.clear(userId);
    return { profile: toProfile(result.profile), fieldErrors: [] };
  },
  async updateNotificationPreferences(_parent, { changes }, ctx) {
    const matrix = await ctx.account.preferences.update(viewerOf(ctx).userId, changes);
    return matrix.map(({ channel, category, enabled, locked }) => ({ channel, category, enabled, locked }));
  },
  async requestDataExport(_parent, _args, ctx) {
    const view = await ctx.account.exports.request(viewerOf(ctx).userId, ctx.client);
    return {
      id: view.id,
      status: view.status,
      requestedAt: view.requestedAt,
      completedAt: view.completedAt,
      expiresAt: view.expiresAt,
      downloadUrl: view.downloadUrl,
    };
  },
};
