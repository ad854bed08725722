import type { BaseContext } from '@gatehouse/service';
import type { Loaders } from './loaders';
import type { ProfileService } from './services/profile.service';

/** Per-request GraphQL context of the account subgraph. */
export interface Context extends BaseContext {
  loaders: Loaders;
  profiles: ProfileService;
}
