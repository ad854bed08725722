// The request facts every flow records (sessions, audit, mail); shared with the other subgraphs.
export { clientInfoFrom as clientFrom, type ClientInfo } from '@gatehouse/service';
