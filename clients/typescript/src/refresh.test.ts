import { createMemoryTokenStore, type TokenSet } from './auth.js';
import { createGatehouseClient, type GatehouseClientOptions } from './client.js';
import { GatehouseError, NetworkError } from './errors.js';
import {
  errorReply,
  startLocalServer,
  type LocalServer,
  type RecordedRequest,
  type Reply,
} from './local-server.test-support.js';
import type { AuthFailureEvent } from './refresh.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const FIFTEEN_MINUTES = 15 * 60_000;

/**
 * A small identity over HTTP: rotating single-use refresh tokens (a reused one ends the session), access tokens
 * valid until revoked, `me` refusing anything else with UNAUTHENTICATED (no reason), as the gateway does.
 */
class FakeIdentity {
  private counter = 0;
  readonly validAccess = new Set<string>();
  private readonly liveRefresh = new Set<string>();
  private readonly usedRefresh = new Set<string>();
  /** Added to each refresh, so that concurrent callers overlap with it. */
  refreshDelayMs = 30;
  /** The clock the tokens' expiry is computed from (the client gets the same one). */
  now = T0;
  mfaFor = new Set<string>();

  issue(): Record<string, unknown> {
    this.counter += 1;
    const accessToken = `access-${this.counter}`;
    const refreshToken = `refresh-${this.counter}`;
    this.validAccess.add(accessToken);
    this.liveRefresh.add(refreshToken);
    return {
      accessToken,
      accessTokenExpiresAt: new Date(this.now + FIFTEEN_MINUTES).toISOString(),
      refreshToken,
      refreshTokenExpiresAt: new Date(this.now + 30 * 24 * 3600_000).toISOString(),
      backupCodesRemaining: null,
      user: { id: 'u1', email: 'ada@example.test', emailVerified: true, status: 'ACTIVE', mfaEnabled: false },
    };
  }

  /** Tokens the client starts with, as if signed in before. */
  signedIn(accessTokenExpiresAt: number): TokenSet {
    const issued = this.issue();
    return {
      accessToken: issued.accessToken as string,
      accessTokenExpiresAt,
      refreshToken: issued.refreshToken as string,
    };
  }

  async handle(request: RecordedRequest): Promise<Reply> {
    const variables = request.body.variables ?? {};
    switch (request.body.operationName) {
      case 'RefreshToken': {
        await new Promise((resolve) => setTimeout(resolve, this.refreshDelayMs));
        const token = String(variables.refreshToken);
        if (this.usedRefresh.has(token))
          return errorReply('UNAUTHENTICATED', { reason: 'REFRESH_TOKEN_REUSED' });
        if (!this.liveRefresh.delete(token))
          return errorReply('UNAUTHENTICATED', { reason: 'INVALID_REFRESH_TOKEN' });
        this.usedRefresh.add(token);
        return { body: { data: { refreshToken: this.issue() } } };
      }
      case 'Login': {
        const { email } = variables.input as { email: string };
        if (this.mfaFor.has(email)) {
          return {
            body: {
              data: {
                login: {
                  __typename: 'MfaChallenge',
                  mfaToken: 'mfa-1',
                  methods: ['TOTP', 'BACKUP_CODE'],
                  expiresAt: new Date(this.now + 300_000).toISOString(),
                },
              },
            },
          };
        }
        return { body: { data: { login: { __typename: 'AuthPayload', ...this.issue() } } } };
      }
      case 'VerifyMfa':
        if (variables.code !== '123456') return errorReply('UNAUTHENTICATED', { reason: 'MFA_CODE_INVALID' });
        return { body: { data: { verifyMfa: this.issue() } } };
      case 'Logout':
        this.liveRefresh.delete(String(variables.refreshToken));
        return { body: { data: { logout: true } } };
      case 'ChangePassword':
        return errorReply('UNAUTHENTICATED', { reason: 'INVALID_CREDENTIALS' });
      default: {
        const token = /^Bearer (.+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
        if (!token || !this.validAccess.has(token)) {
          return errorReply('UNAUTHENTICATED', { status: 401, message: 'Invalid or expired access token' });
        }
        return { body: { data: { me: { id: 'u1', email: 'ada@example.test' } } } };
      }
    }
  }
}

let server: LocalServer;
let identity: FakeIdentity;
beforeAll(async () => {
  server = await startLocalServer((request) => identity.handle(request));
});
afterAll(() => server.close());
beforeEach(() => {
  identity = new FakeIdentity();
  server.requests.length = 0;
});

function client(tokens?: TokenSet, options: Partial<GatehouseClientOptions> = {}) {
  const store = createMemoryTokenStore(tokens);
  const failures: AuthFailureEvent[] = [];
  const gatehouse = createGatehouseClient({
    url: server.url,
    tokenStore: store,
    now: () => identity.now,
    retry: false,
    ...options,
  });
  gatehouse.onAuthFailure((event) => failures.push(event));
  return { gatehouse, store, failures };
}

describe('single-flight refresh', () => {
  it('ten concurrent calls refused with an expired token trigger exactly one refresh', async () => {
    const initial = identity.signedIn(T0 + FIFTEEN_MINUTES);
    // The server no longer accepts it (expired on its clock, or signed with a retired key).
    identity.validAccess.delete(initial.accessToken);
    const { gatehouse, store } = client(initial);

    const results = await Promise.all(Array.from({ length: 10 }, () => gatehouse.sdk.me()));

    expect(results.every((r) => r.me?.id === 'u1')).toBe(true);
    expect(server.requestsFor('RefreshToken')).toHaveLength(1);
    // Ten refused, ten sent again with the one new token.
    const retried = server.requestsFor('Me').slice(10);
    expect(retried).toHaveLength(10);
    const fresh = (await store.get())?.accessToken;
    expect(new Set(retried.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${fresh}`]));
  });

  it('ten concurrent calls with a token about to expire refresh once, ahead of expiry, before sending', async () => {
    const { gatehouse } = client(identity.signedIn(T0 + 30_000), { refreshAheadMs: 60_000 });
    await Promise.all(Array.from({ length: 10 }, () => gatehouse.sdk.me()));
    expect(server.requestsFor('RefreshToken')).toHaveLength(1);
    // None went out with the old token.
    expect(server.requestsFor('Me')).toHaveLength(10);
    expect(server.requestsFor('Me').every((r) => r.headers.authorization === 'Bearer access-2')).toBe(true);
  });

  it('does not refresh a token with more than refreshAheadMs left, and refreshes once the clock passes it', async () => {
    const { gatehouse } = client(identity.signedIn(T0 + FIFTEEN_MINUTES));
    await gatehouse.sdk.me();
    expect(server.requestsFor('RefreshToken')).toHaveLength(0);
    identity.now = T0 + FIFTEEN_MINUTES - 59_000;
    await gatehouse.sdk.me();
    expect(server.requestsFor('RefreshToken')).toHaveLength(1);
    expect(server.requestsFor('Me')[1]?.headers.authorization).toBe('Bearer access-2');
  });
});

describe('refresh failure', () => {
  it('emits one auth-failure event with the reason, clears the tokens and rejects every waiting call with it', async () => {
    const initial = identity.signedIn(T0 + 10_000);
    // Someone else already used this refresh token: the next use is a reuse.
    await identity.handle({
      method: 'POST',
      path: '/graphql',
      headers: {},
      body: { operationName: 'RefreshToken', variables: { refreshToken: initial.refreshToken } },
    });
    const { gatehouse, store, failures } = client(initial);

    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => gatehouse.sdk.me()));

    expect(server.requestsFor('RefreshToken')).toHaveLength(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.reason).toBe('REFRESH_TOKEN_REUSED');
    expect(failures[0]?.error).toBeInstanceOf(GatehouseError);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as GatehouseError;
      expect(reason).toBeInstanceOf(GatehouseError);
      expect(reason).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_REUSED' });
    }
    expect(await store.get()).toBeUndefined();
    await expect(gatehouse.isSignedIn()).resolves.toBe(false);
  });

  it('keeps the session on a network failure while the old token is still valid, and emits nothing', async () => {
    const initial = identity.signedIn(T0 + 30_000);
    const fetchFailingRefresh: typeof fetch = async (input, init) => {
      const body = JSON.parse(String(init?.body)) as { operationName?: string };
      if (body.operationName === 'RefreshToken') throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    const { gatehouse, store, failures } = client(initial, { fetch: fetchFailingRefresh });
    await expect(gatehouse.sdk.me()).resolves.toMatchObject({ me: { id: 'u1' } });
    expect(failures).toEqual([]);
    expect(await store.get()).toMatchObject({ refreshToken: initial.refreshToken });
    // Once the token has expired, the network failure is the call's error.
    identity.now = T0 + 31_000;
    await expect(gatehouse.sdk.me()).rejects.toBeInstanceOf(NetworkError);
  });

  it('does not refresh on an UNAUTHENTICATED that carries a reason: it is the operation’s answer', async () => {
    const { gatehouse } = client(identity.signedIn(T0 + FIFTEEN_MINUTES));
    await expect(
      gatehouse.sdk.changePassword({
        input: { currentPassword: 'wrong', newPassword: 'whatever it is 123' },
      }),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' });
    expect(server.requestsFor('RefreshToken')).toHaveLength(0);
    expect(server.requestsFor('ChangePassword')).toHaveLength(1);
  });
});

describe('sign-in', () => {
  it('signIn stores the tokens and sends Login without an Authorization header', async () => {
    const { gatehouse, store } = client(identity.signedIn(T0 - 1));
    const result = await gatehouse.signIn({ email: 'ada@example.test', password: 'pw' });
    expect(result.kind).toBe('signed-in');
    expect(server.requestsFor('Login')[0]?.headers.authorization).toBeUndefined();
    // An expired token in the store did not cause a refresh before the sign-in.
    expect(server.requestsFor('RefreshToken')).toHaveLength(0);
    expect(await store.get()).toMatchObject({ accessToken: 'access-2', refreshToken: 'refresh-2' });
  });

  it('signIn answers mfa-required, and verifyMfa finishes it (a wrong code is a typed error, not a refresh)', async () => {
    identity.mfaFor.add('grace@example.test');
    const { gatehouse, store } = client();
    const challenge = await gatehouse.signIn({ email: 'grace@example.test', password: 'pw' });
    if (challenge.kind !== 'mfa-required') throw new Error('expected an MFA challenge');
    expect(challenge.methods).toEqual(['TOTP', 'BACKUP_CODE']);
    expect(challenge.expiresAt).toEqual(new Date(T0 + 300_000));
    expect(await store.get()).toBeUndefined();

    await expect(gatehouse.verifyMfa({ mfaToken: challenge.mfaToken, code: '000000' })).rejects.toMatchObject(
      {
        code: 'UNAUTHENTICATED',
        reason: 'MFA_CODE_INVALID',
      },
    );
    const done = await gatehouse.verifyMfa({ mfaToken: challenge.mfaToken, code: '123456' });
    expect(done.user.email).toBe('ada@example.test');
    await expect(gatehouse.isSignedIn()).resolves.toBe(true);
    expect(server.requestsFor('VerifyMfa')).toHaveLength(2);
  });

  it('signOut ends the session with its refresh token (no refresh first, even near expiry) and forgets the tokens', async () => {
    const initial = identity.signedIn(T0 + 1000);
    const { gatehouse, store } = client(initial);
    await expect(gatehouse.signOut()).resolves.toBe(true);
    expect(server.requestsFor('Logout')[0]?.body.variables).toEqual({ refreshToken: initial.refreshToken });
    expect(server.requestsFor('RefreshToken')).toHaveLength(0);
    expect(await store.get()).toBeUndefined();
  });
});

describe('cookie mode', () => {
  let cookieServer: LocalServer;
  let refreshReply: () => Reply;
  beforeAll(async () => {
    cookieServer = await startLocalServer(() => refreshReply());
  });
  afterAll(() => cookieServer.close());
  beforeEach(() => {
    cookieServer.requests.length = 0;
  });

  function cookieClient() {
    return client(undefined, {
      cookieSession: {
        url: cookieServer.url.replace('/graphql', '/auth/refresh'),
        headers: () => ({ 'x-csrf-token': 'csrf-1' }),
      },
    });
  }

  it('never stores a refresh token, and refreshes through the cookie endpoint with the CSRF header', async () => {
    const { gatehouse, store } = cookieClient();
    await gatehouse.signIn({ email: 'ada@example.test', password: 'pw' });
    expect(await store.get()).not.toHaveProperty('refreshToken');

    refreshReply = () => {
      const issued = identity.issue();
      return { body: { accessToken: issued.accessToken, accessTokenExpiresAt: issued.accessTokenExpiresAt } };
    };
    identity.now = T0 + FIFTEEN_MINUTES;
    await gatehouse.sdk.me();
    expect(cookieServer.requests).toHaveLength(1);
    expect(cookieServer.requests[0]).toMatchObject({ method: 'POST', path: '/auth/refresh' });
    expect(cookieServer.requests[0]?.headers['x-csrf-token']).toBe('csrf-1');
    expect(server.requestsFor('RefreshToken')).toHaveLength(0);
    expect(await store.get()).not.toHaveProperty('refreshToken');
  });

  it('restoreSession picks up the cookie session, and a 401 from the endpoint means signed out, silently', async () => {
    const { gatehouse, failures } = cookieClient();
    refreshReply = () => errorReply('UNAUTHENTICATED', { status: 401, reason: 'NO_SESSION' });
    await expect(gatehouse.restoreSession()).resolves.toBe(false);
    expect(failures).toEqual([]);

    refreshReply = () => ({ body: { data: { refreshToken: identity.issue() } } });
    await expect(gatehouse.restoreSession()).resolves.toBe(true);
    await expect(gatehouse.sdk.me()).resolves.toMatchObject({ me: { id: 'u1' } });
  });

  it('a revoked cookie session emits the auth-failure event with the endpoint’s reason', async () => {
    const { gatehouse, failures } = cookieClient();
    refreshReply = () => ({ body: { data: { refreshToken: identity.issue() } } });
    await gatehouse.restoreSession();
    identity.now = T0 + FIFTEEN_MINUTES;
    refreshReply = () => errorReply('UNAUTHENTICATED', { status: 401, reason: 'SESSION_REVOKED' });
    await expect(gatehouse.sdk.me()).rejects.toMatchObject({ reason: 'SESSION_REVOKED' });
    expect(failures.map((f) => f.reason)).toEqual(['SESSION_REVOKED']);
  });
});
