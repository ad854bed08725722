import type DataLoader from 'dataloader';
import { loaderByKey } from '@gatehouse/service';
import type { ProfileModel } from './models';
import type { ProfileRepository } from './repositories/profile.repository';

export interface Repositories {
  profiles: ProfileRepository;
}

/** Request-scoped DataLoaders: the profiles of all users in one request are read with one query. */
export interface Loaders {
  profileByUserId: DataLoader<string, ProfileModel | null>;
}

export function createLoaders(repositories: Repositories): Loaders {
  return {
    profileByUserId: loaderByKey(
      (userIds) => repositories.profiles.findByUserIds(userIds),
      (p) => p.userId,
    ),
  };
}
