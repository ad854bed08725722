import type { BaseContext } from '@gatehouse/service';
import type { Loaders } from './loaders';
import type { UserService } from './services/user.service';

/** Per-request GraphQL context of the identity subgraph. */
export interface Context extends BaseContext {
  loaders: Loaders;
  users: UserService;
}
