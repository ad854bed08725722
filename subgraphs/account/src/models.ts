/** A user as this subgraph knows it: only the key. Identity owns the user itself. */
export interface UserReference {
  id: string;
}

export interface ProfileModel {
  userId: string;
  displayName: string | null;
  avatarUrl: string | null;
  locale: string | null;
  timezone: string | null;
  bio: string | null;
}
