import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatehouseError, NetworkError } from './errors.js';
import {
  errorReply,
  startLocalServer,
  typedDocument,
  type Handler,
  type LocalServer,
} from './local-server.test-support.js';
import { createHttpTransport } from './transport.js';

const ME = typedDocument<{ me: { id: string } | null }>('query Me { me { id } }');
const META = { operationName: 'Me', kind: 'query', idempotent: true } as const;

let server: LocalServer;
let handler: Handler;

beforeAll(async () => {
  server = await startLocalServer((request) => handler(request));
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
});

it('posts the printed document, the variables and the operation name as JSON, with per-call headers', async () => {
  handler = () => ({ body: { data: { me: { id: 'u1' } } } });
  const transport = createHttpTransport({ url: server.url, headers: { 'x-request-id': 'r1' } });
  await expect(transport.execute(ME, {}, META, { headers: { authorization: 'Bearer t' } })).resolves.toEqual({
    me: { id: 'u1' },
  });
  const [request] = server.requests;
  expect(request?.method).toBe('POST');
  expect(request?.headers['content-type']).toBe('application/json');
  expect(request?.headers['x-request-id']).toBe('r1');
  expect(request?.headers.authorization).toBe('Bearer t');
  expect(request?.body).toEqual({
    query: expect.stringContaining('me {'),
    variables: {},
    operationName: 'Me',
  });
});

it('turns an answer with errors into a GatehouseError carrying code, reason, status and Retry-After', async () => {
  handler = () =>
    errorReply('RATE_LIMITED', { reason: 'TOO_MANY_REQUESTS', status: 429, headers: { 'retry-after': '7' } });
  const error = await createHttpTransport({ url: server.url })
    .execute(ME, {}, META)
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(GatehouseError);
  expect(error).not.toBeInstanceOf(NetworkError);
  expect(error).toMatchObject({
    code: 'RATE_LIMITED',
    reason: 'TOO_MANY_REQUESTS',
    status: 429,
    retryAfter: '7',
  });
});

it('keeps an unknown code in rawCode and maps code to INTERNAL_SERVER_ERROR', async () => {
  handler = () => errorReply('SOMETHING_NEW');
  const error = (await createHttpTransport({ url: server.url })
    .execute(ME, {}, META)
    .catch((e: unknown) => e)) as GatehouseError;
  expect(error.code).toBe('INTERNAL_SERVER_ERROR');
  expect(error.rawCode).toBe('SOMETHING_NEW');
});

it('answers a non-GraphQL body (a proxy error page) with a NetworkError holding the status', async () => {
  handler = () => ({ status: 502, body: '<html>Bad gateway</html>' });
  const error = await createHttpTransport({ url: server.url })
    .execute(ME, {}, META)
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NetworkError);
  expect(error).not.toBeInstanceOf(GatehouseError);
  expect(error).toMatchObject({ status: 502, operationName: 'Me' });
});

it('answers a refused connection with a NetworkError without status', async () => {
  // A port that was just free and is closed again: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const error = await createHttpTransport({ url: `http://127.0.0.1:${port}/graphql` })
    .execute(ME, {}, META)
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NetworkError);
  expect((error as NetworkError).status).toBeUndefined();
});

it('rethrows the caller’s abort reason instead of a NetworkError', async () => {
  handler = () => new Promise(() => undefined);
  const controller = new AbortController();
  const pending = createHttpTransport({ url: server.url }).execute(ME, {}, META, {
    signal: controller.signal,
  });
  const reason = new Error('user navigated away');
  controller.abort(reason);
  await expect(pending).rejects.toBe(reason);
});

it('gives up after timeoutMs with a NetworkError', async () => {
  handler = () => new Promise(() => undefined);
  const error = await createHttpTransport({ url: server.url, timeoutMs: 50 })
    .execute(ME, {}, META)
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NetworkError);
});

it('refuses a URL that is neither http(s) nor a path, and accepts a path (resolved by the browser)', () => {
  expect(() => createHttpTransport({ url: 'localhost:4000/graphql' })).toThrow(TypeError);
  expect(() => createHttpTransport({ url: '//evil.example/graphql' })).toThrow(TypeError);
  expect(() => createHttpTransport({ url: '/graphql' })).not.toThrow();
});
