import type DataLoader from 'dataloader';
import { groupedLoaderByKey, loaderByKey } from '@gatehouse/service';
import type { AdminService, LinkedAccountRow, UserSecurityFacts } from './admin';
import type { UserModel } from './models';
import type { UserRepository } from './users';
import type { ListedSession } from './sessions';

export interface Repositories {
  users: UserRepository;
  /** The admin reads (security facts, provider links, sessions); absent where no identity services run. */
  admin?: Pick<AdminService, 'securityFacts' | 'linkedAccounts' | 'sessionsOf'>;
}

/** Request-scoped DataLoaders: every lookup of one kind in one request is batched into one query. */
export interface Loaders {
  userById: DataLoader<string, UserModel | null>;
  /** MFA state, last sign-in and lockout of users. */
  securityFactsByUserId: DataLoader<string, UserSecurityFacts | null>;
  /** Provider links of users, oldest first. */
  linkedAccountsByUserId: DataLoader<string, LinkedAccountRow[]>;
  /** Live sessions of users, most recently active first. */
  sessionsByUserId: DataLoader<string, ListedSession[]>;
}

function requireAdmin(repositories: Repositories): NonNullable<Repositories['admin']> {
  if (!repositories.admin) throw new Error('The admin reads need the identity services');
  return repositories.admin;
}

export function createLoaders(repositories: Repositories): Loaders {
  return {
    userById: loaderByKey(
      (ids) => repositories.users.findByIds(ids),
      (user) => user.id,
    ),
    securityFactsByUserId: loaderByKey(
      (ids) => requireAdmin(repositories).securityFacts(ids),
      (facts) => facts.userId,
    ),
    linkedAccountsByUserId: groupedLoaderByKey(
      (ids) => requireAdmin(repositories).linkedAccounts(ids),
      (row) => row.userId,
    ),
    sessionsByUserId: groupedLoaderByKey(
      (ids) => requireAdmin(repositories).sessionsOf(ids),
      (session) => session.userId,
    ),
  };
}
