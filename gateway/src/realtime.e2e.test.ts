// Issue #8 "Real-time subscriptions": graphql-ws on the gateway's /graphql through a real WebSocket client, against
// the whole supergraph (real PostgreSQL, Redis when REDIS_URL is set, the services' shared event bus).
import { randomUUID } from 'node:crypto';
import { createAuditWriter } from '@gatehouse/audit';
import { createPasswordHasher, OWASP_ARGON2ID } from '@gatehouse/crypto';
import { postGraphQL } from '@gatehouse/service/testing';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { AUDIT_EVENTS_TOPIC, BILLING_EVENTS_TOPIC, SESSION_TOPICS } from './realtime';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

const PASSWORD = 'correct horse battery staple 42';
const USERS = ['ada', 'grace', 'linus', 'locked'] as const;
type UserName = (typeof USERS)[number];

let supergraph: Supergraph;
let wsUrl: string;
const ids = {} as Record<UserName, string>;
const clients: Client[] = [];

beforeAll(async () => {
  const passwordHash = await createPasswordHasher(OWASP_ARGON2ID).hash(PASSWORD);
  supergraph = await startSupergraph({
    seed: async (prisma) => {
      for (const name of USERS) {
        const user = await prisma.user.create({
          data: { email: `${name}@example.test`, status: 'ACTIVE', emailVerified: true, passwordHash },
        });
        ids[name] = user.id;
      }
    },
  });
  wsUrl = supergraph.graphqlUrl.replace(/^http/, 'ws');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
});

afterAll(async () => {
  await supergraph?.close();
});

interface Closed {
  code: number;
  reason: string;
}

interface Feed<T> {
  readonly items: T[];
  readonly errors: unknown[];
  /** Resolves with the first item matching, failing after `timeoutMs` (a deadline, not a sleep). */
  next(match: (item: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Resolves with the subscription's error (an array of GraphQL errors, or a close event). */
  failed(timeoutMs?: number): Promise<unknown>;
}

function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A graphql-ws client over `ws`, connecting at once; `closed` resolves with the server's close code. */
function connect(connectionParams: Record<string, unknown>) {
  let onClosed: (closed: Closed) => void = () => undefined;
  const closed = new Promise<Closed>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams,
    onNonLazyError: () => undefined,
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string | Buffer };
        onClosed({ code, reason: String(reason) });
      },
    },
  });
  clients.push(client);

  function subscribe<T>(field: string, selection: string): Feed<T> {
    const items: T[] = [];
    const errors: unknown[] = [];
    const listeners = new Set<() => void>();
    const notify = () => listeners.forEach((listener) => listener());
    client.subscribe<Record<string, T>>(
      { query: `subscription { ${field} { ${selection} } }` },
      {
        next: (result) => {
          if (result.errors) errors.push(result.errors);
          const item = result.data?.[field];
          if (item) items.push(item);
          notify();
        },
        error: (error) => {
          errors.push(error);
          notify();
        },
        complete: () => undefined,
      },
    );
    const until = <R>(pick: () => R | undefined, timeoutMs: number, what: string) =>
      within(
        new Promise<R>((resolve) => {
          const check = () => {
            const found = pick();
            if (found !== undefined) {
              listeners.delete(check);
              resolve(found);
            }
          };
          listeners.add(check);
          check();
        }),
        timeoutMs,
        what,
      );
    return {
      items,
      errors,
      next: (match, timeoutMs = 5000) => until(() => items.find(match), timeoutMs, `${field} event`),
      failed: (timeoutMs = 5000) => until(() => errors[0], timeoutMs, `${field} error`),
    };
  }

  return { client, closed, subscribe };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Delivery is only to subscribers connected at publish time, and the server subscribes to the bus after the
 * client's `subscribe` message: publish a probe until one arrives, so the subscription is known to be live.
 */
async function untilLive<T>(feed: Feed<T>, publishProbe: () => Promise<void>, isProbe: (item: T) => boolean) {
  const arrived = feed.next(isProbe, 10_000);
  let live = false;
  void arrived.then(() => (live = true)).catch(() => undefined);
  while (!live) {
    await publishProbe();
    await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, 50))]).catch(() => undefined);
    if (feed.errors.length > 0) throw new Error(`subscription failed: ${JSON.stringify(feed.errors)}`);
  }
}

async function login(name: UserName, userAgent: string) {
  const response = await postGraphQL<{ login: { accessToken: string } }>(
    supergraph.graphqlUrl,
    `mutation($input: LoginInput!) { login(input: $input) { ... on AuthPayload { accessToken } } }`,
    {
      variables: { input: { email: `${name}@example.test`, password: PASSWORD } },
      headers: { 'user-agent': userAgent },
    },
  );
  expect(response.body.errors).toBeUndefined();
  const accessToken = response.body.data!.login.accessToken;
  const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as {
    sid: string;
  };
  return { accessToken, sessionId: claims.sid };
}

interface SessionEventItem {
  id: string;
  type: 'CREATED' | 'REVOKED';
  sessionId: string;
  current: boolean;
  reason: string | null;
}
const SESSION_FIELDS = 'id type sessionId current reason at';

it('refuses a connection without a token, and with a forged one, with 4401', async () => {
  const anonymous = connect({});
  await expect(within(anonymous.closed, 5000, 'close')).resolves.toEqual({
    code: 4401,
    reason: 'Unauthorized',
  });

  const token = await supergraph.signer.sign({ userId: ids.ada, roles: ['member'] });
  const [header, payload] = token.split('.');
  const forged = connect(
    bearer(`${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`),
  );
  await expect(within(forged.closed, 5000, 'close')).resolves.toEqual({ code: 4401, reason: 'Unauthorized' });
});

it("a revoked session's socket gets its REVOKED event within a second, then is closed 4401", async () => {
  const browser = await login(
    'ada',
    'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  );
  const other = await login(
    'ada',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15',
  );
  const connection = connect(bearer(browser.accessToken));
  const feed = connection.subscribe<SessionEventItem>('sessionEvents', SESSION_FIELDS);
  await untilLive(
    feed,
    () =>
      supergraph.events.publish(SESSION_TOPICS.CREATED, {
        id: 'probe',
        userId: ids.ada,
        sessionId: 'probe',
        at: new Date().toISOString(),
      }),
    (item) => item.id === 'probe',
  );

  // The other device revokes the browser's session through the supergraph, as a user would.
  const revoked = await postGraphQL(supergraph.graphqlUrl, `mutation($id: ID!) { revokeSession(id: $id) }`, {
    variables: { id: browser.sessionId },
    token: other.accessToken,
  });
  expect(revoked.body).toEqual({ data: { revokeSession: true } });

  const event = await feed.next((item) => item.type === 'REVOKED', 1000);
  expect(event).toMatchObject({ sessionId: browser.sessionId, current: true, reason: 'USER_REVOKED' });
  await expect(within(connection.closed, 5000, 'close')).resolves.toEqual({
    code: 4401,
    reason: 'Session revoked',
  });

  // Reconnecting with the revoked session's token is refused at once.
  const again = connect(bearer(browser.accessToken));
  await expect(within(again.closed, 5000, 'close')).resolves.toEqual({
    code: 4401,
    reason: 'Session revoked',
  });
});

it('closes the socket 4401 "Token expired" when the access token expires', async () => {
  const token = await supergraph.signer.sign({ userId: ids.grace, roles: ['member'] }, { ttlSeconds: 2 });
  const connection = connect(bearer(token));
  const feed = connection.subscribe<{ id: string }>('paymentEvents', 'id');
  const closed = await within(connection.closed, 10_000, 'close');
  expect(closed).toEqual({ code: 4401, reason: 'Token expired' });
  // The open subscription ends with the socket (the client reports the close to it).
  await expect(feed.failed()).resolves.toMatchObject({ code: 4401 });
});

it("never delivers another user's payment event", async () => {
  const feeds = {} as Record<'ada' | 'grace', Feed<{ id: string; type: string; userId: string }>>;
  for (const name of ['ada', 'grace'] as const) {
    const token = await supergraph.signer.sign({ userId: ids[name], roles: ['member'] });
    const feed = connect(bearer(token)).subscribe<{ id: string; type: string; userId: string }>(
      'paymentEvents',
      'id type name userId data createdAt',
    );
    await untilLive(
      feed,
      () =>
        supergraph.events.publish(BILLING_EVENTS_TOPIC, {
          id: `probe-${name}`,
          type: 'payment.succeeded',
          userId: ids[name],
          data: {},
          createdAt: new Date().toISOString(),
        }),
      (item) => item.id === `probe-${name}`,
    );
    feeds[name] = feed;
  }

  const publish = (id: string, userId: string) =>
    supergraph.events.publish(BILLING_EVENTS_TOPIC, {
      id,
      type: 'payment.failed',
      userId,
      data: { amount: 1999, currency: 'eur' },
      createdAt: new Date().toISOString(),
    });
  await publish('evt-grace', ids.grace);
  // Published after Grace's on the same topic: once Ada has it, Grace's would have reached her before.
  await publish('evt-ada', ids.ada);

  await expect(feeds.grace.next((item) => item.id === 'evt-grace')).resolves.toEqual({
    id: 'evt-grace',
    type: 'PAYMENT_FAILED',
    name: 'payment.failed',
    userId: ids.grace,
    data: { amount: 1999, currency: 'eur' },
    createdAt: expect.any(String),
  });
  await feeds.ada.next((item) => item.id === 'evt-ada');
  expect(feeds.ada.items.map((item) => item.userId)).toEqual(feeds.ada.items.map(() => ids.ada));
  expect(feeds.ada.items.some((item) => item.id === 'evt-grace')).toBe(false);
});

it('resolves the subscription of a payment event through the supergraph, as the viewer', async () => {
  const plan = await supergraph.db.prisma.subscriptionPlan.create({
    data: { code: 'pro-live', name: 'Pro', priceAmount: 2900, currency: 'USD', interval: 'MONTH' },
  });
  const start = new Date('2031-03-01T00:00:00.000Z');
  await supergraph.db.prisma.subscription.create({
    data: {
      userId: ids.linus,
      planId: plan.id,
      status: 'ACTIVE',
      priceAmount: 2900,
      currency: 'USD',
      currentPeriodStart: start,
      currentPeriodEnd: new Date('2031-04-01T00:00:00.000Z'),
      billingCycleAnchor: start,
    },
  });
  const token = await supergraph.signer.sign({ userId: ids.linus, roles: ['member'] });
  const feed = connect(bearer(token)).subscribe<{ id: string; subscription: unknown }>(
    'paymentEvents',
    'id subscription',
  );
  const event = (id: string) => ({
    id,
    type: 'payment.succeeded',
    userId: ids.linus,
    data: { amount: 2900, currency: 'USD' },
    createdAt: new Date().toISOString(),
  });
  await untilLive(
    feed,
    () => supergraph.events.publish(BILLING_EVENTS_TOPIC, event('probe-linus')),
    (item) => item.id === 'probe-linus',
  );
  await supergraph.events.publish(BILLING_EVENTS_TOPIC, event('evt-linus'));
  await expect(feed.next((item) => item.id === 'evt-linus')).resolves.toMatchObject({
    subscription: {
      status: 'ACTIVE',
      currentPeriodEnd: '2031-04-01T00:00:00.000Z',
      plan: { code: 'pro-live' },
      price: { amount: 2900, currency: 'USD' },
    },
  });
});

it('refuses auditEvents without audit:read and streams audit rows to an administrator', async () => {
  const member = await supergraph.signer.sign({ userId: ids.linus, roles: ['member'], permissions: [] });
  const refused = connect(bearer(member)).subscribe('auditEvents', 'id');
  await expect(refused.failed()).resolves.toEqual([
    expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) }),
  ]);

  const admin = await supergraph.signer.sign({
    userId: ids.grace,
    roles: ['admin'],
    permissions: ['audit:read', 'users:read'],
  });
  const feed = connect(bearer(admin)).subscribe<{
    id: string;
    action: string;
    outcome: string;
    targetId: string;
  }>('auditEvents', 'id action outcome actorUserId impersonatorUserId targetType targetId createdAt');
  const row = (id: string) => ({
    id,
    action: 'ROLE_GRANTED',
    outcome: 'SUCCESS',
    actorUserId: ids.grace,
    targetType: 'User',
    targetId: ids.linus,
    createdAt: new Date().toISOString(),
  });
  await untilLive(
    feed,
    () => supergraph.events.publish(AUDIT_EVENTS_TOPIC, row('probe')),
    (item) => item.id === 'probe',
  );
  // A real row, written the way every subgraph writes audit rows: the database trigger announces it on commit,
  // the relay puts it on the bus, the gateway streams it.
  const targetId = randomUUID();
  await createAuditWriter(supergraph.db.prisma).record({
    action: 'USER_IMPERSONATED',
    outcome: 'SUCCESS',
    actorUserId: ids.linus,
    impersonatorUserId: ids.grace,
    targetType: 'User',
    targetId,
  });
  await expect(feed.next((item) => item.targetId === targetId)).resolves.toMatchObject({
    action: 'USER_IMPERSONATED',
    outcome: 'SUCCESS',
    actorUserId: ids.linus,
    impersonatorUserId: ids.grace,
  });
});

it('relays the lockout identity publishes to the owner as a security event', async () => {
  const token = await supergraph.signer.sign({ userId: ids.locked, roles: ['member'] });
  const feed = connect(bearer(token)).subscribe<{
    id: string;
    type: string;
    details: Record<string, unknown>;
  }>('securityEvents', 'id type userId sessionId details at');
  await untilLive(
    feed,
    () =>
      supergraph.events.publish('security.mfa_enabled', {
        userId: ids.locked,
        method: 'probe',
        ip: null,
        userAgent: null,
        at: new Date().toISOString(),
      }),
    (item) => item.type === 'MFA_ENABLED',
  );

  for (let attempt = 0; attempt < 5; attempt += 1) {
    await postGraphQL(
      supergraph.graphqlUrl,
      `mutation($input: LoginInput!) { login(input: $input) { __typename } }`,
      { variables: { input: { email: 'locked@example.test', password: 'wrong password, again' } } },
    );
  }
  const locked = await feed.next((item) => item.type === 'ACCOUNT_LOCKED');
  expect(locked.details).toEqual({ lockedUntil: expect.any(String), failures: 5 });
});

it('refuses subscriptions beyond the per-connection limit', async () => {
  const token = await supergraph.signer.sign({ userId: ids.linus, roles: ['member'] });
  const connection = connect(bearer(token));
  const feeds = Array.from({ length: 11 }, () => connection.subscribe('paymentEvents', 'id'));
  await expect(feeds[10]!.failed()).resolves.toEqual([
    expect.objectContaining({
      extensions: { code: 'BAD_USER_INPUT', details: { reason: 'TOO_MANY_SUBSCRIPTIONS', limit: 10 } },
    }),
  ]);
  expect(feeds.slice(0, 10).every((feed) => feed.errors.length === 0)).toBe(true);
});

// Issue #16: the playground sends its whole editor (queries next to the subscription) with an operation name.
it('runs the named subscription of a document that also holds queries, and refuses an unknown name', async () => {
  const token = await supergraph.signer.sign({ userId: ids.linus, roles: ['member'] });
  const { client } = connect(bearer(token));
  const query = `
    query Plans { plans { code } }
    subscription Sessions { sessionEvents { ...Event } }
    fragment Event on SessionEvent { id sessionId }
    fragment Unused on SessionEvent { at }`;
  const run = (operationName: string) => {
    const items: unknown[] = [];
    const errors: unknown[] = [];
    client.subscribe(
      { query, operationName },
      {
        next: (result) => {
          if (result.errors) errors.push(result.errors);
          if (result.data) items.push(result.data);
        },
        error: (error) => errors.push(error),
        complete: () => undefined,
      },
    );
    return { items, errors };
  };

  const sessions = run('Sessions');
  const deadline = Date.now() + 10_000;
  while (sessions.items.length === 0 && sessions.errors.length === 0 && Date.now() < deadline) {
    await supergraph.events.publish(SESSION_TOPICS.CREATED, {
      id: 'multi-operation',
      userId: ids.linus,
      sessionId: 'multi-operation-session',
      at: '2026-01-31T12:00:00.000Z',
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(sessions.errors).toEqual([]);
  expect(sessions.items[0]).toEqual({
    sessionEvents: { id: 'multi-operation', sessionId: 'multi-operation-session' },
  });

  const unknown = run('Nope');
  const until = Date.now() + 5_000;
  while (unknown.errors.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  expect(JSON.stringify(unknown.errors)).toContain('Unknown operation named \\"Nope\\"');
});
