import type { ClientInfo as RequestClientInfo } from '@gatehouse/service';

// The request facts every flow records (sessions, audit, mail); shared with the other subgraphs.
export { clientInfoFrom as clientFrom } from '@gatehouse/service';

/**
 * The request facts every flow records (sessions, audit, mail), plus the administrator behind the request when its
 * token is an impersonation token: every audit row written through `auditClientFields` then names them.
 */
export interface ClientInfo extends RequestClientInfo {
  /** `act.sub` of the access token (see `Viewer.impersonatorUserId`); absent for ordinary requests. */
  impersonatorUserId?: string | null;
}
