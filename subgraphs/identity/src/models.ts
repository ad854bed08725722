import type { UserStatus } from '@gatehouse/db';

/**
 * The identity subgraph's view of a user: what resolvers may read. Deliberately excludes credentials
 * (password hash, MFA state, lockout counters) so they can never be resolved by accident.
 */
export interface UserModel {
  id: string;
  email: string;
  emailVerified: boolean;
  status: UserStatus;
  createdAt: Date;
}
