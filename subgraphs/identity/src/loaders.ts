import type DataLoader from 'dataloader';
import { loaderByKey } from '@gatehouse/service';
import type { UserModel } from './models';
import type { UserRepository } from './repositories/user.repository';

export interface Repositories {
  users: UserRepository;
}

/** Request-scoped DataLoaders: every user lookup of one request is batched into one query. */
export interface Loaders {
  userById: DataLoader<string, UserModel | null>;
}

export function createLoaders(repositories: Repositories): Loaders {
  return {
    userById: loaderByKey(
      (ids) => repositories.users.findByIds(ids),
      (user) => user.id,
    ),
  };
}
