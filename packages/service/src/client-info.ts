import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** Who is on the other end of a request, for sessions, audit and mail. Never trusted for authorization. */
export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

/**
 * The caller as the gateway reports it. Subgraphs are reachable only from the gateway, which sets
 * X-Forwarded-For; a direct caller is identified by its socket address.
 */
export function clientInfoFrom(req: IncomingMessage, requestId: string): ClientInfo {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  const candidate = (first || req.socket.remoteAddress || '').replace(/^::ffff:/, '');
  const ip = candidate && isIP(candidate) ? candidate : null;
  const userAgent = req.headers['user-agent'] ?? null;
  return { ip, userAgent, requestId };
}
