import type { Profile } from '../generated/graphql';
import type { ProfileView } from '../profile';

/** The GraphQL shape of a cached profile view. */
export function toProfile(view: ProfileView): Profile {
  return {
    displayName: view.displayName,
    bio: view.bio,
    phone: view.phone,
    locale: view.locale,
    timezone: view.timezone,
    avatarUrl: view.avatar?.original ?? null,
    avatar: view.avatar
      ? {
          original: view.avatar.original,
          small: view.avatar.sizes[50],
          medium: view.avatar.sizes[150],
          large: view.avatar.sizes[300],
        }
      : null,
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
  };
}
