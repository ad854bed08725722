import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StorageErrorCode } from './error-codes';
import type { FilesystemStorage } from './filesystem-storage';
import { PUBLIC_PREFIX, assertObjectKey } from './object-key';

/** Same shape as `RouteHandler` of @gatehouse/service: true when the request was handled. */
export type FileRouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
) => Promise<boolean>;

export interface FileRoutesOptions {
  /**
   * URL path the files are served under, starting and ending with `/`. Default: the path of the storage's
   * `publicBaseUrl` (`http://host/files` → `/files/`), which is what a request reaching this service directly
   * carries; set it when a proxy in front rewrites the path.
   */
  pathPrefix?: string;
}

/**
 * Files never render as active content on our origin, even if a stored object were HTML or SVG: no sniffing,
 * and a sandboxed CSP that allows nothing.
 */
const SAFETY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; sandbox",
} as const;

function sendError(
  res: ServerResponse,
  status: number,
  code: StorageErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify({ error: message, code });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...SAFETY_HEADERS,
    ...headers,
  });
  res.end(payload);
}

function isValidKey(key: string): boolean {
  try {
    assertObjectKey(key);
    return true;
  } catch {
    return false;
  }
}

function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/**
 * HTTP routes serving a {@link FilesystemStorage}: `GET`/`HEAD <pathPrefix><key>`.
 *
 * - Keys under `public/` are served to anyone, with their Cache-Control (a year, immutable, by default) and
 *   `cross-origin-resource-policy: cross-origin` so other origins may embed them.
 * - Other keys need a valid signed URL: 403 `SIGNED_URL_INVALID` for a missing or wrong signature (also when the
 *   key or expiry was altered), 403 `SIGNED_URL_EXPIRED` for a genuine but expired one. The signature is
 *   checked before the filesystem is touched, so unsigned requests learn nothing about which objects exist.
 * - The path is used as the key verbatim (never URL-decoded) and must pass the key rules: `..`, `%2e`, `\`,
 *   leading or double slashes get 400 `OBJECT_KEY_INVALID`. Path traversal is therefore impossible.
 * - Missing object: 404 `OBJECT_NOT_FOUND`. Other methods: 405. Errors are JSON `{ error, code }`.
 * - Every file carries `x-content-type-options: nosniff`, a sandboxing CSP and a strong ETag (304 on a match).
 */
export function createFileRoutes(
  storage: FilesystemStorage,
  options: FileRoutesOptions = {},
): FileRouteHandler {
  const pathPrefix = options.pathPrefix ?? `${new URL(storage.publicBaseUrl).pathname.replace(/\/+$/, '')}/`;
  // '/' would swallow every other route of the service.
  if (!/^\/[^?#]*[^/?#]\/$/.test(pathPrefix)) {
    throw new RangeError('pathPrefix must be a path like /files/ (publicBaseUrl needs a path, e.g. /files)');
  }

  return async (req, res) => {
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const rawPath = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    if (!rawPath.startsWith(pathPrefix)) return false;

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, 405, StorageErrorCode.METHOD_NOT_ALLOWED, 'Method not allowed', { allow: 'GET, HEAD' });
      return true;
    }
    const key = rawPath.slice(pathPrefix.length);
    if (!isValidKey(key)) {
      sendError(res, 400, StorageErrorCode.OBJECT_KEY_INVALID, 'Invalid file path');
      return true;
    }
    const isPublic = key.startsWith(PUBLIC_PREFIX);
    if (!isPublic) {
      const query = new URLSearchParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1));
      const verdict = storage.verifySignedUrl(key, query);
      if (verdict === 'expired') {
        sendError(res, 403, StorageErrorCode.SIGNED_URL_EXPIRED, 'This link has expired');
        return true;
      }
      if (verdict === 'invalid') {
        sendError(res, 403, StorageErrorCode.SIGNED_URL_INVALID, 'This link is not valid');
        return true;
      }
    }

    const object = await storage.get(key);
    if (!object) {
      sendError(res, 404, StorageErrorCode.OBJECT_NOT_FOUND, 'File not found');
      return true;
    }
    const etag = etagOf(object.body);
    const headers: Record<string, string | number> = {
      'cache-control': object.cacheControl,
      etag,
      ...SAFETY_HEADERS,
      ...(isPublic ? { 'cross-origin-resource-policy': 'cross-origin' } : {}),
    };
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim() === etag)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': object.contentType,
      'content-length': object.body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : object.body);
    return true;
  };
}
