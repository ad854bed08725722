import { GatehouseError, NetworkError } from './errors.js';
import {
  errorReply,
  startLocalServer,
  typedDocument,
  type Handler,
  type LocalServer,
} from './local-server.test-support.js';
import { createRetryPolicy, parseRetryAfter, withRetry, type RetryPolicyOptions } from './retry.js';
import { createHttpTransport, type OperationMeta } from './transport.js';

const ME = typedDocument<{ me: { id: string } }>('query Me { me { id } }');
const RENAME = typedDocument<{ rename: boolean }, { name: string }>(
  'mutation Rename($name: String!) { rename(name: $name) }',
);
const LOGIN = typedDocument<unknown>(
  'mutation Login { login(input: { email: "a@b.c", password: "x" }) { __typename } }',
);
const VERIFY_MFA = typedDocument<unknown>(
  'mutation VerifyMfa { verifyMfa(mfaToken: "t", code: "123456") { accessToken } }',
);
const query: OperationMeta = { operationName: 'Me', kind: 'query', idempotent: true };

let server: LocalServer;
let handler: Handler;
beforeAll(async () => {
  server = await startLocalServer((request) => handler(request));
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
});

/** A transport whose sleeps are recorded instead of waited, and whose jitter is fixed at `random`. */
function retrying(options: RetryPolicyOptions = {}) {
  const sleeps: number[] = [];
  const transport = withRetry(
    createHttpTransport({ url: server.url }),
    createRetryPolicy({
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      ...options,
    }),
  );
  return { transport, sleeps };
}

/** Answers `failures` in turn, then `{ data }`. */
function failing(failures: (() => ReturnType<Handler>)[], data: unknown): Handler {
  let calls = 0;
  return () => {
    const failure = failures[calls];
    calls += 1;
    return failure ? failure() : { body: { data } };
  };
}

it('retries an idempotent query after 503s, with exponential backoff and full jitter', async () => {
  handler = failing(
    [() => ({ status: 503, body: '' }), () => errorReply('SERVICE_UNAVAILABLE', { status: 503 })],
    {
      me: { id: 'u1' },
    },
  );
  const { transport, sleeps } = retrying({ baseDelayMs: 100 });
  await expect(transport.execute(ME, {}, query)).resolves.toEqual({ me: { id: 'u1' } });
  expect(server.requests).toHaveLength(3);
  // random 0.5 × min(max, 100 × 2^(n-1)).
  expect(sleeps).toEqual([50, 100]);
});

it('caps the backoff at maxDelayMs and stops after maxAttempts with the last error', async () => {
  handler = () => errorReply('SERVICE_UNAVAILABLE', { status: 503 });
  const { transport, sleeps } = retrying({
    baseDelayMs: 1000,
    maxDelayMs: 1500,
    maxAttempts: 4,
    random: () => 0.999,
  });
  const error = await transport.execute(ME, {}, query).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(GatehouseError);
  expect((error as GatehouseError).code).toBe('SERVICE_UNAVAILABLE');
  expect(server.requests).toHaveLength(4);
  expect(sleeps).toEqual([999, 1498, 1498]);
});

it('never retries an operation not marked idempotent', async () => {
  handler = () => errorReply('SERVICE_UNAVAILABLE', { status: 503 });
  const { transport, sleeps } = retrying();
  const meta: OperationMeta = { operationName: 'Rename', kind: 'mutation', idempotent: false };
  await expect(transport.execute(RENAME, { name: 'x' }, meta)).rejects.toBeInstanceOf(GatehouseError);
  expect(server.requests).toHaveLength(1);
  expect(sleeps).toEqual([]);
});

it('retries a mutation marked idempotent', async () => {
  handler = failing([() => ({ status: 502, body: 'bad gateway' })], { rename: true });
  const { transport } = retrying();
  const meta: OperationMeta = { operationName: 'Rename', kind: 'mutation', idempotent: true };
  await expect(transport.execute(RENAME, { name: 'x' }, meta)).resolves.toEqual({ rename: true });
  expect(server.requests).toHaveLength(2);
});

it.each([
  ['Login', LOGIN],
  ['VerifyMfa', VERIFY_MFA],
])('never retries %s, even when its metadata claims it is idempotent', async (operationName, document) => {
  handler = () => errorReply('RATE_LIMITED', { status: 429, headers: { 'retry-after': '1' } });
  const { transport, sleeps } = retrying();
  const meta: OperationMeta = { operationName, kind: 'mutation', idempotent: true };
  await expect(transport.execute(document, {}, meta)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  expect(server.requests).toHaveLength(1);
  expect(sleeps).toEqual([]);
});

it('honours Retry-After in seconds on a 429 instead of the backoff', async () => {
  handler = failing([() => errorReply('RATE_LIMITED', { status: 429, headers: { 'retry-after': '3' } })], {
    me: { id: 'u1' },
  });
  const { transport, sleeps } = retrying();
  await expect(transport.execute(ME, {}, query)).resolves.toEqual({ me: { id: 'u1' } });
  expect(sleeps).toEqual([3000]);
});

it('honours Retry-After as an HTTP-date, measured on the injected clock', async () => {
  const now = Date.parse('2030-06-01T12:00:00Z');
  handler = failing(
    [
      () =>
        errorReply('RATE_LIMITED', {
          status: 429,
          headers: { 'retry-after': 'Sat, 01 Jun 2030 12:00:05 GMT' },
        }),
    ],
    { me: { id: 'u1' } },
  );
  const { transport, sleeps } = retrying({ now: () => now });
  await transport.execute(ME, {}, query);
  expect(sleeps).toEqual([5000]);
});

it('honours details.retryAfterSeconds when the answer has no header', async () => {
  handler = failing([() => errorReply('RATE_LIMITED', { details: { retryAfterSeconds: 2 } })], {
    me: { id: 'u1' },
  });
  const { transport, sleeps } = retrying();
  await transport.execute(ME, {}, query);
  expect(sleeps).toEqual([2000]);
});

it('does not wait for a Retry-After longer than maxRetryAfterMs', async () => {
  handler = () => errorReply('RATE_LIMITED', { status: 429, headers: { 'retry-after': '3600' } });
  const { transport, sleeps } = retrying({ maxRetryAfterMs: 60_000 });
  await expect(transport.execute(ME, {}, query)).rejects.toMatchObject({
    code: 'RATE_LIMITED',
    retryAfter: '3600',
  });
  expect(server.requests).toHaveLength(1);
  expect(sleeps).toEqual([]);
});

it.each(['BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'INTERNAL_SERVER_ERROR'])(
  'does not retry %s: the same request would get the same answer',
  async (code) => {
    handler = () => errorReply(code);
    const { transport } = retrying();
    await expect(transport.execute(ME, {}, query)).rejects.toMatchObject({ code });
    expect(server.requests).toHaveLength(1);
  },
);

it('retries a network failure of an idempotent operation, then surfaces it as a NetworkError', async () => {
  const sleeps: number[] = [];
  const transport = withRetry(
    // Nothing listens on port 9 (discard) of loopback in the test environment.
    createHttpTransport({ url: 'http://127.0.0.1:9/graphql' }),
    createRetryPolicy({ maxAttempts: 2, random: () => 0, sleep: async (ms) => void sleeps.push(ms) }),
  );
  await expect(transport.execute(ME, {}, query)).rejects.toBeInstanceOf(NetworkError);
  expect(sleeps).toEqual([0]);
});

it('stops waiting when the caller aborts', async () => {
  handler = () => errorReply('SERVICE_UNAVAILABLE', { status: 503 });
  const transport = withRetry(
    createHttpTransport({ url: server.url }),
    createRetryPolicy({ baseDelayMs: 60_000, random: () => 1 }),
  );
  const controller = new AbortController();
  const pending = transport.execute(ME, {}, query, { signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 50));
  controller.abort(new Error('cancelled'));
  await expect(pending).rejects.toThrow('cancelled');
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2030-06-01T12:00:00Z');
  it.each([
    ['0', 0],
    ['120', 120_000],
    ['Sat, 01 Jun 2030 12:01:00 GMT', 60_000],
    // A date in the past means "now".
    ['Sat, 01 Jun 2030 11:00:00 GMT', 0],
  ])('%s → %d ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
  it.each(['soon', '-1', '1.5', ''])('ignores %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
