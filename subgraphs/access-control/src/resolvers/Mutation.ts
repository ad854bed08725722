import type { MutationResolvers } from '../generated/graphql';
import { actorOf, changeAuthorOf } from './viewer';

export const Mutation: MutationResolvers = {
  createRole: async (_parent, { input }, ctx) => ctx.roleAdmin.createRole(await actorOf(ctx), input),
  updateRole: async (_parent, { id, input }, ctx) => ctx.roleAdmin.updateRole(await actorOf(ctx), id, input),
  deleteRole: async (_parent, { id }, ctx) => ctx.roleAdmin.deleteRole(await actorOf(ctx), id),
  assignRole: async (_parent, { userId, roleId, expiresAt }, ctx) => {
    await ctx.roleAdmin.assignRole(await actorOf(ctx), { userId, roleId, expiresAt: expiresAt ?? null });
    return { id: userId };
  },
  removeRole: async (_parent, { userId, roleId }, ctx) => {
    await ctx.roleAdmin.removeRole(await actorOf(ctx), { userId, roleId });
    return { id: userId };
  },
  updateSetting: (_parent, { key, value }, ctx) => ctx.settingsAdmin.update(changeAuthorOf(ctx), key, value),
  setFeatureFlag: (_parent, { key, input }, ctx) =>
    ctx.settingsAdmin.setFlag(changeAuthorOf(ctx), key, {
      enabled: input.enabled,
      rolloutPercent: input.rolloutPercent,
      userIds: input.userIds ?? [],
      description: input.description ?? null,
    }),
};
