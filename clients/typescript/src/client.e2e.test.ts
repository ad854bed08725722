// Issue #16: the client against the real platform (gateway + the four subgraphs in-process, real PostgreSQL,
// Redis with REDIS_URL, an SMTP server capturing the mail), exactly as a user's code would drive it.
import { createPasswordHasher, OWASP_ARGON2ID } from '@gatehouse/crypto';
import { startTestSmtpServer, totp, type TestSmtpServer } from '@gatehouse/testing';
import { startSupergraph, type Supergraph } from '../../../gateway/src/supergraph.test-support.js';
import { createMemoryTokenStore, type TokenStore } from './auth.js';
import { createGatehouseClient, type GatehouseClient } from './client.js';
import { GatehouseError } from './errors.js';
import type { SessionEventsSubscription } from './generated/graphql.js';
import type { AuthFailureEvent } from './refresh.js';

jest.setTimeout(90_000);

const PASSWORD = 'correct horse battery staple 42';
const SEEDED = ['grace@example.test', 'edsger@example.test'];

let smtp: TestSmtpServer;
let supergraph: Supergraph;
const clients: GatehouseClient[] = [];

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  const passwordHash = await createPasswordHasher(OWASP_ARGON2ID).hash(PASSWORD);
  supergraph = await startSupergraph({
    seed: (prisma) =>
      prisma.user.createMany({
        data: SEEDED.map((email) => ({
          email,
          status: 'ACTIVE' as const,
          emailVerified: true,
          passwordHash,
        })),
      }),
    identityEnv: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://id.example.test' },
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await supergraph?.close();
  await smtp?.close();
});

interface Harness {
  client: GatehouseClient;
  store: TokenStore;
  failures: AuthFailureEvent[];
  /** The operation names this client sent over HTTP, in order. */
  sent: string[];
  /** Moves the client's clock (not the server's): how an access token "expires" without waiting 15 minutes. */
  advance(ms: number): void;
}

function harness(options: { refreshAheadMs?: number } = {}): Harness {
  let skew = 0;
  const sent: string[] = [];
  const store = createMemoryTokenStore();
  const failures: AuthFailureEvent[] = [];
  const client = createGatehouseClient({
    url: supergraph.graphqlUrl,
    tokenStore: store,
    now: () => Date.now() + skew,
    ...options,
    fetch: (input, init) => {
      sent.push((JSON.parse(String(init.body)) as { operationName: string }).operationName);
      return fetch(input, init);
    },
  });
  client.onAuthFailure((event) => failures.push(event));
  clients.push(client);
  return { client, store, failures, sent, advance: (ms) => (skew += ms) };
}

function verificationToken(text: string): string {
  const match = /https:\/\/id\.example\.test\/verify-email\?token=([A-Za-z0-9_%-]+)/.exec(text);
  if (!match?.[1]) throw new Error(`no verification link in: ${text}`);
  return decodeURIComponent(match[1]);
}

async function currentSessionId(client: GatehouseClient): Promise<string> {
  const { mySessions } = await client.sdk.mySessions();
  const current = mySessions.find((session) => session.current);
  if (!current) throw new Error('no current session');
  return current.id;
}

it('register → verify by mail → sign in → me → the token expires → refreshed transparently → reuse is a typed error', async () => {
  const email = 'ada@example.test';
  const { client, store, failures, sent, advance } = harness();

  const registered = await client.sdk.register({
    input: { email, password: PASSWORD, name: 'Ada Lovelace' },
  });
  expect(registered.register).toEqual({ accepted: true, fieldErrors: [] });
  const mail = await smtp.waitForMail((m) => m.to.includes(email) && /verify/i.test(m.subject));
  // The generated operation, run by an anonymous caller: it selects only what such a caller may read.
  const verified = await client.sdk.verifyEmail({ token: verificationToken(mail.text) });
  expect(verified.verifyEmail).toMatchObject({ email, emailVerified: true, status: 'ACTIVE' });

  const signedIn = await client.signIn({ email, password: PASSWORD });
  expect(signedIn).toMatchObject({ kind: 'signed-in', user: { email } });
  expect((await client.sdk.me()).me?.email).toBe(email);
  const first = (await store.get())!;
  // What a thief (or a stale second tab) could have copied.
  const stolen = { ...first };

  // 15 minutes later on the client's clock: the next call refreshes first, and the caller notices nothing.
  advance(15 * 60_000);
  sent.length = 0;
  expect((await client.sdk.me()).me?.email).toBe(email);
  expect(sent).toEqual(['RefreshToken', 'Me']);
  const second = (await store.get())!;
  expect(second.accessToken).not.toBe(first.accessToken);
  expect(second.refreshToken).not.toBe(first.refreshToken);

  // The copied refresh token is presented again: the API ends the whole session.
  const thief = harness();
  await thief.store.set(stolen);
  thief.advance(15 * 60_000);
  const reuse = await thief.client.sdk.me().catch((e: unknown) => e);
  expect(reuse).toBeInstanceOf(GatehouseError);
  expect(reuse).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_REUSED' });
  expect(thief.failures.map((f) => f.reason)).toEqual(['REFRESH_TOKEN_REUSED']);
  expect(await thief.store.get()).toBeUndefined();

  // The legitimate client's session ended too: its token is refused, its refresh fails, and it is told so once.
  const ended = await client.sdk.me().catch((e: unknown) => e);
  expect(ended).toBeInstanceOf(GatehouseError);
  expect((ended as GatehouseError).code).toBe('UNAUTHENTICATED');
  expect(failures).toHaveLength(1);
  expect(await client.isSignedIn()).toBe(false);
});

it('a token the gateway refuses is refreshed once for ten concurrent calls, which all succeed', async () => {
  const { client, store, sent } = harness();
  const signedIn = await client.signIn({ email: SEEDED[1]!, password: PASSWORD });
  if (signedIn.kind !== 'signed-in') throw new Error('expected tokens');
  const sessionId = await currentSessionId(client);
  // An access token of this very session that expired an hour ago, while the store believes it is fresh.
  const expired = await supergraph.signer.sign(
    { userId: signedIn.user.id, sessionId, roles: ['member'] },
    { ttlSeconds: 60, issuedAt: new Date(Date.now() - 3600_000) },
  );
  const tokens = (await store.get())!;
  await store.set({ ...tokens, accessToken: expired });
  sent.length = 0;

  const results = await Promise.all(Array.from({ length: 10 }, () => client.sdk.me()));
  expect(results.every((result) => result.me?.email === SEEDED[1])).toBe(true);
  expect(sent.filter((name) => name === 'RefreshToken')).toHaveLength(1);
  expect((await store.get())?.accessToken).not.toBe(expired);
});

it('MFA sign-in: the password answers a challenge, the authenticator code finishes it', async () => {
  const email = SEEDED[0]!;
  const { client } = harness();
  await client.signIn({ email, password: PASSWORD });
  const { enrollTotp } = await client.sdk.enrollTotp({ password: PASSWORD });
  const { confirmTotp } = await client.sdk.confirmTotp({ code: totp(enrollTotp.secret) });
  expect(confirmTotp.mfaEnabled).toBe(true);
  await expect(client.signOut()).resolves.toBe(true);
  expect(await client.isSignedIn()).toBe(false);

  const challenge = await client.signIn({ email, password: PASSWORD });
  if (challenge.kind !== 'mfa-required') throw new Error(`expected an MFA challenge, got ${challenge.kind}`);
  expect(challenge.methods).toEqual(expect.arrayContaining(['TOTP', 'BACKUP_CODE']));
  expect(await client.isSignedIn()).toBe(false);

  const wrong = await client
    .verifyMfa({ mfaToken: challenge.mfaToken, code: '000000' })
    .catch((e: unknown) => e);
  expect(wrong).toBeInstanceOf(GatehouseError);
  expect((wrong as GatehouseError).code).toBe('UNAUTHENTICATED');
  expect((wrong as GatehouseError).reason).toMatch(/^MFA_CODE_(INVALID|REUSED)$/);

  // A code of the next 30-second step: accepted, and never a replay of the one that confirmed the app.
  const code = totp(enrollTotp.secret, { time: Date.now() / 1000 + 30 });
  const done = await client.verifyMfa({ mfaToken: challenge.mfaToken, code });
  expect(done.user).toMatchObject({ email, status: 'ACTIVE' });
  expect((await client.sdk.me()).me).toMatchObject({ email, mfaEnabled: true });
});

it('a subscription receives session.revoked when the session is revoked elsewhere, then ends with SESSION_REVOKED', async () => {
  const email = SEEDED[1]!;
  const { client: device, failures } = harness();
  await device.signIn({ email, password: PASSWORD });
  const sessionId = await currentSessionId(device);

  const events: SessionEventsSubscription['sessionEvents'][] = [];
  let ended: unknown;
  const listening = (async () => {
    try {
      for await (const { sessionEvents } of device.sdk.subscribeSessionEvents()) events.push(sessionEvents);
    } catch (error) {
      ended = error;
    }
  })();

  // The server relays only what is published after it subscribed: sign in elsewhere until a CREATED event shows
  // the stream is live (a deadline, not a sleep).
  const elsewhere = harness().client;
  const deadline = Date.now() + 15_000;
  while (!events.some((e) => e.type === 'CREATED')) {
    if (Date.now() > deadline) throw new Error('the subscription never delivered an event');
    await elsewhere.signIn({ email, password: PASSWORD });
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  await expect(elsewhere.sdk.revokeSession({ id: sessionId })).resolves.toEqual({ revokeSession: true });
  await listening;

  expect(events.find((e) => e.type === 'REVOKED')).toMatchObject({ sessionId, current: true });
  expect(ended).toBeInstanceOf(GatehouseError);
  expect(ended).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
  // The client forgot the ended session and told its listeners.
  expect(await device.isSignedIn()).toBe(false);
  expect(failures.map((f) => f.reason)).toEqual(['SESSION_REVOKED']);
});

it('a subscription outlives its access token: the gateway closes at expiry, the client reconnects with a refreshed one', async () => {
  const email = SEEDED[1]!;
  // No refresh ahead of expiry: the socket opens with the 2-second token below and the gateway must close it.
  const { client: device, store, sent } = harness({ refreshAheadMs: 0 });
  const signedIn = await device.signIn({ email, password: PASSWORD });
  if (signedIn.kind !== 'signed-in') throw new Error('expected tokens');
  const sessionId = await currentSessionId(device);
  const shortLived = await supergraph.signer.sign(
    { userId: signedIn.user.id, sessionId, roles: ['member'] },
    { ttlSeconds: 2 },
  );
  await store.set({
    ...(await store.get())!,
    accessToken: shortLived,
    accessTokenExpiresAt: Date.now() + 2000,
  });
  sent.length = 0;

  const events: SessionEventsSubscription['sessionEvents'][] = [];
  let ended: unknown;
  const listening = (async () => {
    try {
      for await (const { sessionEvents } of device.sdk.subscribeSessionEvents()) {
        events.push(sessionEvents);
        if (sessionEvents.type === 'REVOKED') break;
      }
    } catch (error) {
      ended = error;
    }
  })();

  // Past the token's expiry, events still arrive: sign in elsewhere until one does.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const elsewhere = harness().client;
  const deadline = Date.now() + 15_000;
  while (!events.some((e) => e.type === 'CREATED')) {
    if (ended !== undefined) throw ended;
    if (Date.now() > deadline) throw new Error('no event after the token expired');
    await elsewhere.signIn({ email, password: PASSWORD });
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(ended).toBeUndefined();
  // The reconnect asked for a token, found it expired and refreshed it.
  expect(sent).toContain('RefreshToken');
  expect((await store.get())?.accessToken).not.toBe(shortLived);

  await elsewhere.sdk.revokeSession({ id: sessionId });
  await listening;
});
