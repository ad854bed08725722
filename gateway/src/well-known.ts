import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  DISCOVERY_PATH,
  discoveryDocument,
  JWKS_PATH,
  jwksDocument,
  type KeyRing,
  type VerificationKey,
} from '@gatehouse/service';

/**
 * `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`: how anyone (a customer's API, an
 * API gateway, another service) verifies Gatehouse access tokens without calling Gatehouse per request. The
 * gateway serves them because it is the one public door; the documents hold public keys only.
 */

export interface WellKnownOptions {
  /** JWT_ISSUER: the `iss` of every token; the JWKS is announced at `<issuer>/.well-known/jwks.json`. */
  readonly issuer: string;
  /** The keys tokens may be signed with (JWT_PUBLIC_KEY); empty publishes an empty set. */
  readonly keys: KeyRing | readonly VerificationKey[];
}

/**
 * Five minutes: verifiers pick up a newly published key quickly, which is what makes rotation safe (publish
 * the new key, wait longer than this, then sign with it).
 */
export const WELL_KNOWN_CACHE_CONTROL = 'public, max-age=300';

interface StaticDocument {
  body: Buffer;
  etag: string;
}

function staticDocument(value: unknown): StaticDocument {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** Public, read-only metadata: any origin may read it (browsers verifying tokens, SPA SDKs). */
const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
} as const;
const ALLOW = 'GET, HEAD, OPTIONS';

function ifNoneMatch(req: IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (header === undefined) return false;
  return header === '*' || header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * Route handler for the two documents, for `startHttpService`'s `routes`: returns `false` for every other
 * path. The documents are built once: keys only change with configuration, which means a restart.
 */
export function createWellKnownHandler(
  options: WellKnownOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const documents = new Map<string, StaticDocument>([
    [JWKS_PATH, staticDocument(jwksDocument(options.keys))],
    [DISCOVERY_PATH, staticDocument(discoveryDocument({ issuer: options.issuer }))],
  ]);

  return async (req, res) => {
    const pathname = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const document = documents.get(pathname);
    if (!document) return false;

    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS_HEADERS, 'Access-Control-Max-Age': '86400', Allow: ALLOW });
      res.end();
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const body = JSON.stringify({ error: 'Method not allowed' });
      res.writeHead(405, {
        Allow: ALLOW,
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
      return true;
    }

    const headers = {
      ...CORS_HEADERS,
      'Cache-Control': WELL_KNOWN_CACHE_CONTROL,
      ETag: document.etag,
      'X-Content-Type-Options': 'nosniff',
    };
    if (ifNoneMatch(req, document.etag)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    res.writeHead(200, {
      ...headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': document.body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : document.body);
    return true;
  };
}
