import { request } from 'node:http';
import {
  AppError,
  ErrorCode,
  NotFoundError,
  ServiceUnavailableError,
  ValidationError,
} from '@gatehouse/errors';
import { createLogger } from '@gatehouse/logger';
import type { Viewer } from './auth';
import { startHttpService, type HttpService } from './http-server';
import { createRestRoute, RestError, viewerAuthentication, type RestRouteLogger } from './rest-route';
import { createTestAuth } from './testing.test-support';

// Real HTTP: the kit's server with one skeleton route per behaviour under test.

const silent = createLogger({ name: 'rest-route-test', level: 'silent' });
const { signer, verifier } = createTestAuth();
const ENDED_SESSION = 'ended-session';

/** What the routes logged as failures: the skeleton must log unexpected errors, and only those. */
const logged: Array<{ details: object; message: string }> = [];
const logger: RestRouteLogger = {
  error: (details, message) => void logged.push({ details, message }),
  warn: () => undefined,
};

/** What the `/echo` handler received, for the body tests. */
let received: { body?: Buffer; json?: unknown; query?: string } = {};

let service: HttpService;

const routes = [
  createRestRoute<Viewer>({
    name: 'reports',
    path: '/reports',
    methods: ['GET', 'POST'],
    logger,
    authenticate: viewerAuthentication({
      verifier,
      sessionCheck: async (viewer) => viewer.sessionId !== ENDED_SESSION,
      permission: 'reports:read',
      message: 'Sign in to read reports',
    }),
    body: { maxBytes: 64, kind: 'json' },
    async handle({ principal, json }) {
      return { status: 200, json: { userId: principal.userId, json: json ?? null } };
    },
  }),
  createRestRoute<Viewer>({
    name: 'changes',
    path: '/changes',
    methods: ['PUT'],
    logger,
    authenticate: { ...viewerAuthentication({ verifier, refuseImpersonation: true }), challenge: 'bearer' },
    async handle() {
      return { status: 204, empty: true };
    },
  }),
  createRestRoute({
    name: 'echo',
    path: /^\/echo(\/[a-z]+)?$/,
    methods: ['GET', 'HEAD', 'POST'],
    logger,
    headers: { 'x-robots-tag': 'noindex' },
    body: { maxBytes: 16, kind: 'raw', tooLarge: { code: 'ECHO_TOO_LARGE', message: 'At most 16 bytes' } },
    async handle({ method, path, body, query }) {
      received = { ...(body ? { body } : {}), query: query.toString() };
      if (path === '/echo/html')
        return { status: 200, html: '<p>hi</p>', headers: { 'x-frame-options': 'DENY' } };
      if (path === '/echo/boom')
        throw new Error('connect ECONNREFUSED postgres://admin:hunter2@db/gatehouse');
      if (path === '/echo/missing')
        throw new NotFoundError('User not found', { details: { reason: 'USER_NOT_FOUND' } });
      if (path === '/echo/quota') {
        throw new AppError(ErrorCode.QUOTA_EXCEEDED, 'Used up', {
          details: { reason: 'QUOTA_EXCEEDED', retryAfterSeconds: 60, used: 10 },
        });
      }
      if (path === '/echo/down') throw new ServiceUnavailableError();
      if (path === '/echo/invalid') {
        throw new ValidationError('Invalid input', { details: [{ path: 'quantity', message: 'Too small' }] });
      }
      if (path === '/echo/field') {
        throw new AppError(ErrorCode.BAD_USER_INPUT, 'Bad filter', {
          details: { reason: 'FILTER_INVALID', field: 'from' },
        });
      }
      if (path === '/echo/internal')
        throw new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'pool exhausted at db:5432');
      if (path === '/echo/refused') throw new RestError(409, 'ECHO_REFUSED', 'Refused', { field: 'name' });
      return { status: 200, json: { method, bytes: body?.length ?? null } };
    },
  }),
  createRestRoute({
    name: 'picky',
    path: '/picky',
    methods: ['POST'],
    logger,
    reasonStatus: { TOO_BIG: 413 },
    async handle() {
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'Too big', { details: { reason: 'TOO_BIG' } });
    },
  }),
  createRestRoute({
    name: 'broken auth',
    path: '/broken-auth',
    methods: ['GET'],
    logger,
    authenticate: { principal: () => Promise.reject(new Error('session store down')) },
    async handle() {
      return { status: 200, json: {} };
    },
  }),
];

beforeAll(async () => {
  service = await startHttpService({
    name: 'rest-route-test',
    host: '127.0.0.1',
    port: 0,
    logger: silent,
    readinessChecks: {},
    routes: async (req, res, requestId) => {
      for (const route of routes) if (await route(req, res, requestId)) return true;
      return false;
    },
  });
});

afterAll(async () => {
  await service?.stop();
});

beforeEach(() => {
  logged.length = 0;
  received = {};
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const reader = () => signer.sign({ userId: 'reader-1', roles: ['member'], permissions: ['reports:read'] });

async function call(path: string, init: RequestInit = {}) {
  const response = await fetch(`${service.url}${path}`, init);
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: () => JSON.parse(text) as unknown,
  };
}

/** A raw request, to see the `connection` header fetch hides. */
function rawPost(path: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
    const req = request(`${service.url}${path}`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the one error shape', () => {
  it('answers 405 with Allow for other methods, before authenticating', async () => {
    const response = await call('/reports', { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, POST');
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.json()).toEqual({ error: 'METHOD_NOT_ALLOWED', message: 'Method not allowed' });
  });

  it('answers 401 UNAUTHENTICATED without a token, with an invalid one and for an ended session', async () => {
    const missing = await call('/reports');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(missing.json()).toEqual({ error: 'UNAUTHENTICATED', message: 'Sign in to read reports' });

    const forged = await createTestAuth().signer.sign({
      userId: 'reader-1',
      roles: [],
      permissions: ['reports:read'],
    });
    const ended = await signer.sign({ userId: 'reader-1', roles: [], sessionId: ENDED_SESSION });
    for (const token of ['not-a-jwt', forged, ended]) {
      const response = await call('/reports', { headers: bearer(token) });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(response.json()).toMatchObject({ error: 'UNAUTHENTICATED' });
    }
    expect((await call('/reports', { headers: { authorization: 'Basic eDp5' } })).status).toBe(401);
    // The plain challenge, for routes that ask for it.
    const plain = await call('/changes', { method: 'PUT', headers: bearer('not-a-jwt') });
    expect(plain.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 403 FORBIDDEN without the permission, and IMPERSONATION_FORBIDDEN to impersonators', async () => {
    const member = await signer.sign({ userId: 'member-1', roles: ['admin'] });
    const forbidden = await call('/reports', { headers: bearer(member) });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json()).toEqual({ error: 'FORBIDDEN', message: 'Not allowed' });

    const impersonation = await signer.sign({ userId: 'member-1', roles: [], impersonatorUserId: 'admin-1' });
    const refused = await call('/changes', { method: 'PUT', headers: bearer(impersonation) });
    expect(refused.status).toBe(403);
    expect(refused.json()).toEqual({ error: 'IMPERSONATION_FORBIDDEN', message: expect.any(String) });
    expect((await call('/changes', { method: 'PUT', headers: bearer(member) })).status).toBe(204);
  });

  it('answers 500 INTERNAL_SERVER_ERROR when authentication itself fails: never a 401', async () => {
    const response = await call('/broken-auth');
    expect(response.status).toBe(500);
    expect(response.json()).toEqual({ error: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
    expect(logged).toHaveLength(1);
  });

  it('answers bad bodies: 415 not JSON, 400 malformed JSON, 413 over the limit (closing the connection)', async () => {
    const token = await reader();
    const text = await call('/reports', {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(text.status).toBe(415);
    expect(text.json()).toEqual({ error: 'UNSUPPORTED_MEDIA_TYPE', message: expect.any(String) });

    const json = { ...bearer(token), 'content-type': 'application/json' };
    const malformed = await call('/reports', { method: 'POST', headers: json, body: '{"a": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.json()).toEqual({ error: 'BAD_USER_INPUT', message: 'Malformed JSON body' });

    const tooLarge = await rawPost('/reports', json, JSON.stringify({ padding: 'x'.repeat(100) }));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.connection).toBe('close');
    expect(JSON.parse(tooLarge.body)).toEqual({
      error: 'PAYLOAD_TOO_LARGE',
      message: 'Request body too large',
    });

    const ok = await call('/reports', { method: 'POST', headers: json, body: '{"a":1}' });
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ userId: 'reader-1', json: { a: 1 } });
  });

  it('closes the connection when it refuses before reading a body', async () => {
    const refused = await rawPost('/reports', { 'content-type': 'application/json' }, '{"a":1}');
    expect(refused.status).toBe(401);
    expect(refused.connection).toBe('close');
  });

  it('answers a handler error 500 with no detail and no stack, and logs it', async () => {
    const response = await call('/echo/boom');
    expect(response.status).toBe(500);
    expect(response.json()).toEqual({ error: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
    expect(response.text).not.toMatch(/hunter2|ECONNREFUSED|at .*\.ts/);
    expect(logged).toEqual([
      {
        details: expect.objectContaining({ requestId: expect.any(String) }),
        message: 'echo: request failed',
      },
    ]);
    expect((logged[0]!.details as { err: Error }).err.message).toContain('ECONNREFUSED');

    // An AppError with the internal code is ours as well: its message is not the client's to read.
    const internal = await call('/echo/internal');
    expect(internal.status).toBe(500);
    expect(internal.text).not.toContain('pool exhausted');
    expect(logged).toHaveLength(2);
  });

  it('answers AppErrors with their status and code, details.reason first; refusals are not logged', async () => {
    const missing = await call('/echo/missing');
    expect(missing.status).toBe(404);
    expect(missing.json()).toEqual({ error: 'USER_NOT_FOUND', message: 'User not found' });

    const quota = await call('/echo/quota');
    expect(quota.status).toBe(429);
    expect(quota.headers.get('retry-after')).toBe('60');
    expect(quota.json()).toEqual({
      error: 'QUOTA_EXCEEDED',
      message: 'Used up',
      details: { reason: 'QUOTA_EXCEEDED', retryAfterSeconds: 60, used: 10 },
    });

    const down = await call('/echo/down');
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');

    const invalid = await call('/echo/invalid');
    expect(invalid.json()).toEqual({
      error: 'BAD_USER_INPUT',
      message: 'Invalid input',
      details: [{ path: 'quantity', message: 'Too small' }],
    });
    expect((await call('/echo/field')).json()).toEqual({
      error: 'FILTER_INVALID',
      message: 'Bad filter',
      field: 'from',
    });

    const refused = await call('/echo/refused');
    expect(refused.status).toBe(409);
    expect(refused.json()).toEqual({ error: 'ECHO_REFUSED', message: 'Refused', field: 'name' });

    const picky = await call('/picky', { method: 'POST' });
    expect(picky.status).toBe(413);
    expect(picky.json()).toEqual({ error: 'TOO_BIG', message: 'Too big' });
    expect(logged).toEqual([]);
  });
});

describe('requests and results', () => {
  it('hands the raw body over byte for byte, and refuses one over the limit with its own code', async () => {
    const bytes = Buffer.from([0, 255, 10, 13, 0xc3]);
    const response = await call('/echo?x=1', { method: 'POST', body: bytes });
    expect(response.json()).toEqual({ method: 'POST', bytes: 5 });
    expect(received.body?.equals(bytes)).toBe(true);
    expect(received.query).toBe('x=1');

    const tooLarge = await rawPost('/echo', {}, 'x'.repeat(17));
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body)).toEqual({ error: 'ECHO_TOO_LARGE', message: 'At most 16 bytes' });
  });

  it('does not read a body for GET', async () => {
    expect((await call('/echo')).json()).toEqual({ method: 'GET', bytes: null });
  });

  it('sends JSON, HTML and empty results never cached, with the route headers, HEAD without a body', async () => {
    const json = await call('/echo');
    expect(json.headers.get('cache-control')).toBe('no-store');
    expect(json.headers.get('x-content-type-options')).toBe('nosniff');
    expect(json.headers.get('x-robots-tag')).toBe('noindex');

    const html = await call('/echo/html');
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('x-frame-options')).toBe('DENY');
    expect(html.text).toBe('<p>hi</p>');

    const head = await call('/echo/html', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('9');
    expect(head.text).toBe('');

    // Route headers go with errors too.
    const error = await call('/echo', { method: 'PUT' });
    expect(error.headers.get('x-robots-tag')).toBe('noindex');
    expect(error.headers.get('allow')).toBe('GET, HEAD, POST');
  });

  it('leaves other paths to other routes', async () => {
    expect((await call('/reports/other')).status).toBe(404);
    expect((await call('/echo/UPPER')).status).toBe(404);
  });
});
