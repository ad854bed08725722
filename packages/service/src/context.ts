import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { HeaderMap } from '@apollo/server';
import { AuthenticationError } from '@gatehouse/errors';
import { childForRequest, type Logger } from '@gatehouse/logger';
import { bearerTokenFrom, type AccessTokenVerifier, type Viewer } from './auth';

/** What every subgraph's GraphQL context starts with. Subgraphs extend it with their services and loaders. */
export interface BaseContext {
  requestId: string;
  /** The authenticated caller, or `null` for anonymous requests. */
  viewer: Viewer | null;
  /** Request-scoped logger (carries `requestId`). */
  logger: Logger;
}

export interface BuildBaseContextInput {
  req: IncomingMessage;
  requestId: string;
  /**
   * Verifies `Authorization: Bearer` tokens. `null` when no public key is configured (development without
   * keys): anonymous requests still work and every presented token is rejected.
   */
  verifier: AccessTokenVerifier | null;
  logger: Logger;
  /**
   * Asks whether the session a token belongs to is still active (not signed out, revoked or expired), so a
   * revoked session stops working before its access token expires. Called only for tokens with a `sid`;
   * `false` rejects the request exactly like an invalid token. A rejection of the promise (the session
   * store is down) fails the request rather than letting it through.
   */
  sessionCheck?: (viewer: Viewer) => Promise<boolean>;
}

/**
 * Authenticates the request. Each subgraph verifies the access token the gateway forwards (zero trust:
 * a subgraph never believes a user id it cannot verify).
 *
 * @throws GraphQLError UNAUTHENTICATED with HTTP 401 and `WWW-Authenticate: Bearer error="invalid_token"`
 * when a token is present but not valid, or its session has ended (`sessionCheck`), so clients can tell
 * "token expired" apart from "anonymous".
 */
export async function buildBaseContext(input: BuildBaseContextInput): Promise<BaseContext> {
  const { req, requestId, verifier } = input;
  const logger = childForRequest(input.logger, requestId);
  let viewer: Viewer | null = null;
  try {
    const token = bearerTokenFrom(req.headers.authorization);
    if (token !== undefined) {
      if (!verifier) throw new AuthenticationError('Invalid or expired access token');
      viewer = await verifier.verify(token);
      if (input.sessionCheck && viewer.sessionId !== undefined && !(await input.sessionCheck(viewer))) {
        throw new AuthenticationError('Invalid or expired access token');
      }
    }
  } catch (err) {
    // Only "not authenticated" becomes a 401: any other failure (the session store being down, say) must
    // not tell clients to discard their tokens.
    if (!(err instanceof AuthenticationError)) throw err;
    const headers = new HeaderMap([['www-authenticate', 'Bearer error="invalid_token"']]);
    // No `code` here on purpose: formatGraphQLError then classifies by the AppError in `originalError`
    // (and returns only its code), while Apollo reads `http` for the response status and headers.
    throw new GraphQLError(err.message, {
      originalError: err,
      extensions: { http: { status: 401, headers } },
    });
  }
  return { requestId, viewer, logger };
}
