/** Who is on the other end of a request, for sessions, audit and mail. Never trusted for authorization. */
export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}
