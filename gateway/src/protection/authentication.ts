import type { KeyValueStore } from '@gatehouse/kv';
import {
  bearerTokenFrom,
  isSessionRevocationRecorded,
  type AccessTokenVerifier,
  type Viewer,
} from '@gatehouse/service';
import { unauthenticated } from './errors';

export interface GatewayAuthenticator {
  /**
   * Verifies the `Authorization` header (RS256 signature by `kid`, `iss`, `aud`, `exp`; see
   * createAccessTokenVerifier). No header: anonymous (undefined).
   * @throws GraphQLError UNAUTHENTICATED (HTTP 401) for any other scheme or a bad, expired or foreign token.
   */
  authenticate(authorization: string | undefined): Promise<Viewer | undefined>;
  /**
   * Whether the viewer's session was revoked, from the session-status entries identity writes in the shared
   * store. Only a recorded revocation counts: a miss or a store failure is "not known revoked", because the
   * gateway has no database — the subgraphs re-verify every token and ask PostgreSQL on a miss (defence in
   * depth). So a revoked session is refused here at the cost of one GET, sent together with the rate limit's.
   */
  isRevoked(viewer: Viewer): Promise<boolean>;
}

export function createGatewayAuthenticator(options: {
  /** Built once from JWT_PUBLIC_KEY (keys imported once; a raw RSA verify is ~22 µs). */
  verifier: AccessTokenVerifier;
  /** The store identity records revocations in (same Redis and prefix); absent: no revocation check here. */
  kv?: Pick<KeyValueStore, 'get'>;
  onStoreError?: (error: unknown) => void;
  /** Told each presented token's outcome (metrics: `gatehouse_token_verifications_total`). */
  onVerified?: (outcome: 'valid' | 'invalid') => void;
}): GatewayAuthenticator {
  const { kv, verifier, onStoreError = () => undefined, onVerified = () => undefined } = options;
  return {
    async authenticate(authorization) {
      let token: string | undefined;
      try {
        token = bearerTokenFrom(authorization);
        if (token === undefined) return undefined;
        const viewer = await verifier.verify(token);
        onVerified('valid');
        return viewer;
      } catch {
        if (token !== undefined || authorization !== undefined) onVerified('invalid');
        throw unauthenticated();
      }
    },
    async isRevoked(viewer) {
      if (!kv || viewer.sessionId === undefined) return false;
      try {
        return await isSessionRevocationRecorded(kv, viewer.sessionId);
      } catch (error) {
        onStoreError(error);
        return false;
      }
    },
  };
}
