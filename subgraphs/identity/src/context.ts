import type { PermissionContext, ServiceMetrics } from '@gatehouse/service';
import type { Loaders } from './loaders';
import type { IdentityServices } from './runtime';
import type { ClientInfo } from './client-info';
import type { UserService } from './users';

/** Per-request GraphQL context of the identity subgraph. */
export interface Context extends PermissionContext {
  loaders: Loaders;
  users: UserService;
  /** Sign-up, sign-in and session flows (process-wide singletons). */
  identity: IdentityServices;
  /** Business counters (registrations, sign-ins), when the service exposes metrics. */
  metrics?: ServiceMetrics;
  /** The caller's IP and user agent (and the impersonating administrator), for sessions, audit and mail. */
  client: ClientInfo;
  /** The OAuth completion cookie (`gatehouse_oauth_result`, forwarded by the gateway), for `completeOAuthLogin`. */
  oauthBrowserBinding: string | null;
  /** Users this request authenticated (login, refresh, verifyEmail): their payload's `user` is readable. */
  authenticatedUserIds: Set<string>;
}
