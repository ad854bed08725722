import { ADMIN_ROLE, type Viewer } from '@gatehouse/service';
import { ForbiddenError } from '@gatehouse/errors';
import { IdentityErrorCode } from '../error-codes';
import type { Loaders } from '../loaders';
import type { UserModel } from '../models';

export interface UserService {
  /** The viewer's own user; `null` when anonymous (or the account no longer exists). */
  viewer(): Promise<UserModel | null>;
  /**
   * A user by id, for that user or an administrator; `null` when no such user exists.
   * @throws ForbiddenError when the viewer asks for someone else without being an administrator.
   */
  byId(id: string): Promise<UserModel | null>;
  /** Resolves a federation reference (`{ __typename: "User", id }`) from another subgraph. */
  byReference(id: string): Promise<UserModel | null>;
}

/** Per request: binds the viewer and the request's loaders. */
export function createUserService(viewer: Viewer | null, loaders: Loaders): UserService {
  return {
    viewer: async () => (viewer ? loaders.userById.load(viewer.userId) : null),
    async byId(id) {
      const allowed = viewer !== null && (viewer.userId === id || viewer.roles.includes(ADMIN_ROLE));
      if (!allowed) {
        throw new ForbiddenError('You can only read your own user', {
          details: { reason: IdentityErrorCode.USER_NOT_ACCESSIBLE },
        });
      }
      return loaders.userById.load(id);
    },
    // Field-level permissions on User decide what the caller may read of the returned user.
    byReference: (id) => loaders.userById.load(id),
  };
}
