import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { isFromGateway } from './subgraph-secret';

/** Who is on the other end of a request, for sessions, audit and mail. Never trusted for authorization. */
export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

/**
 * The caller as the gateway reports it. X-Forwarded-For is believed only on a request that carried the gateway's
 * secret (SUBGRAPH_SECRET, checked by the HTTP server): anyone else could write any address into it. Every other
 * caller is identified by its socket address.
 */
export function clientInfoFrom(req: IncomingMessage, requestId: string): ClientInfo {
  const forwarded = isFromGateway(req) ? req.headers['x-forwarded-for'] : undefined;
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  const candidate = (first || req.socket.remoteAddress || '').replace(/^::ffff:/, '');
  const ip = candidate && isIP(candidate) ? candidate : null;
  const userAgent = req.headers['user-agent'] ?? null;
  return { ip, userAgent, requestId };
}
