import type { Loaders } from '../loaders';
import type { ProfileModel } from '../models';

export interface ProfileService {
  /**
   * The profile of a user, `null` when none was set up. Who may read it is decided by the permission
   * rules on `User.profile`, before this runs.
   */
  ofUser(userId: string): Promise<ProfileModel | null>;
}

/** Per request: binds the request's loaders. */
export function createProfileService(loaders: Loaders): ProfileService {
  return {
    ofUser: (userId) => loaders.profileByUserId.load(userId),
  };
}
