import type { BaseContext } from '@gatehouse/service';
import type { Loaders } from './loaders';
import type { RoleService } from './services/role.service';

/** Per-request GraphQL context of the access-control subgraph. */
export interface Context extends BaseContext {
  loaders: Loaders;
  roles: RoleService;
}
