import type { Viewer } from '@gatehouse/service';
import { ForbiddenError } from '@gatehouse/errors';
import { UserErrorCode } from './error-codes';
import type { Loaders } from '../loaders';
import type { UserModel } from '../models';

export interface UserService {
  /** The viewer's own user; `null` when anonymous (or the account no longer exists). */
  viewer(): Promise<UserModel | null>;
  /**
   * A user by id, for that user, an administrator or a holder of `users:read`; `null` when no such user exists.
   * @throws ForbiddenError when the viewer asks for someone else without being an administrator.
   */
  byId(id: string): Promise<UserModel | null>;
  /**
   * Resolves a federation reference (`{ __typename: "User", id }`) from another subgraph. Someone who may not read
   * that user gets an unloaded placeholder whatever the id, so the field rules refuse it exactly like an existing
   * user: the answer never reveals whether an id exists.
   */
  byReference(id: string): Promise<UserModel | null>;
}

/** Per request: binds the viewer and the request's loaders. */
/**
 * Stands in for a user the viewer may not read. Every `User` field rule refuses it before a resolver runs, so
 * these values never reach a response; they only keep the type honest without a database read.
 */
function unreadableUser(id: string): UserModel {
  return { id, email: '', emailVerified: false, status: 'ACTIVE', createdAt: new Date(0) };
}

/**
 * @param mayReadOthers whether the viewer may read any user (the live `users:read` permission); asked only for
 * other users, once per request at most (the permission read is memoised per request).
 */
export function createUserService(
  viewer: Viewer | null,
  loaders: Loaders,
  mayReadOthers: () => Promise<boolean> = async () => false,
): UserService {
  const mayRead = async (id: string) =>
    // Never the token's role claim: a demoted administrator must lose access on the next request (issue #14).
    viewer !== null && (viewer.userId === id || (await mayReadOthers()));
  return {
    viewer: async () => (viewer ? loaders.userById.load(viewer.userId) : null),
    async byId(id) {
      if (!(await mayRead(id))) {
        throw new ForbiddenError('You can only read your own user', {
          details: { reason: UserErrorCode.USER_NOT_ACCESSIBLE },
        });
      }
      return loaders.userById.load(id);
    },
    // Field-level permissions on User decide what the caller may read of the returned user.
    byReference: async (id) => ((await mayRead(id)) ? loaders.userById.load(id) : unreadableUser(id)),
  };
}
