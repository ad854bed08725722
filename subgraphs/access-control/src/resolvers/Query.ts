import type { QueryResolvers } from '../generated/graphql';
import { adminMetrics } from '../metrics';
import { viewerId } from './viewer';

export const Query: QueryResolvers = {
  permissions: (_parent, _args, { roles }) => roles.permissionGroups(),
  // An omitted `parentId` lists every role; an explicit null lists the roles without a parent.
  roles: (_parent, args, { roles }) =>
    args.parentId === undefined ? roles.all() : roles.children(args.parentId),
  role: (_parent, { id }, { roles }) => roles.byId(id),
  whyCanI: (_parent, { permission, userId }, ctx) => ctx.roles.explain(userId ?? viewerId(ctx), permission),
  async auditLogs(_parent, { filter, first, after }, { auditQueries }) {
    const page = await auditQueries.list(filter ?? {}, {
      ...(first === null || first === undefined ? {} : { first }),
      ...(after ? { after } : {}),
    });
    return {
      pageInfo: page.pageInfo,
      edges: page.edges.map(({ cursor, node }) => ({
        cursor,
        node: { ...node, metadata: JSON.stringify(node.metadata) },
      })),
    };
  },
  settings: (_parent, _args, { settingsAdmin }) => settingsAdmin.list(),
  featureFlags: (_parent, _args, { settingsAdmin }) => settingsAdmin.flags(),
  featureFlag: (_parent, { key }, ctx) => ctx.settingsAdmin.evaluate(key, viewerId(ctx)),
  adminMetrics,
};
