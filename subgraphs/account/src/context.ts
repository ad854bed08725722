import type DataLoader from 'dataloader';
import type { ClientInfo, PermissionContext } from '@gatehouse/service';
import type { ProfileView } from './profile';
import type { AccountServices } from './runtime';

/**
 * Per-request GraphQL context of the account subgraph. `effectivePermissions` (when the app has the shared store)
 * makes permission rules read live permissions.
 */
export interface Context extends PermissionContext {
  /** Process-wide services. */
  account: AccountServices;
  /** Profiles of every user this request touches, read once through the cache. */
  profileLoader: DataLoader<string, ProfileView | null>;
  /** The caller's IP and user agent, for audit rows. */
  client: ClientInfo;
}
