import type { RoleResolvers } from '../generated/graphql';

export const Role: RoleResolvers = {
  parent: (role, _args, { roles }) => roles.parentOf(role),
  permissions: (role, _args, { roles }) => roles.permissionsOf(role),
};
