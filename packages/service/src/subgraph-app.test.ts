import type { IncomingMessage } from 'node:http';
import { GraphQLError, parse } from 'graphql';
import type { PrismaClient } from '@gatehouse/db';
import { createLogger } from '@gatehouse/logger';
import { allow } from './rules';
import { createSubgraphApp } from './subgraph-app';
import { createTestAuth } from './testing.test-support';

const auth = createTestAuth();
const logger = createLogger({ name: 'subgraph-app-test', level: 'silent' });
const typeDefs = parse('type Query { ping: String }');

function appWith(sessionCheck?: () => Promise<boolean>) {
  return createSubgraphApp({
    typeDefs,
    resolvers: { Query: { ping: () => 'pong' } },
    permissions: { Query: { ping: allow } },
    deps: {
      // Never touched: the context below does no database work.
      prisma: {} as PrismaClient,
      logger,
      verifier: auth.verifier,
      production: false,
      ...(sessionCheck ? { sessionCheck } : {}),
    },
    contextFor: (base) => base,
  });
}

async function contextFor(app: ReturnType<typeof appWith>, token: string) {
  const req = { headers: { authorization: `Bearer ${token}` } } as IncomingMessage;
  return app.context({ req, requestId: 'r1' });
}

describe('createSubgraphApp', () => {
  it('passes the session check to every request, so a revoked session’s token is refused', async () => {
    let live = true;
    const app = appWith(async () => live);
    const token = await auth.signer.sign({ userId: 'u1', roles: [], sessionId: 's1' });

    await expect(contextFor(app, token)).resolves.toMatchObject({
      viewer: { userId: 'u1', sessionId: 's1' },
    });
    live = false;
    const error = await contextFor(app, token).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GraphQLError);
    // The 401 carries the AuthenticationError; formatGraphQLError turns it into UNAUTHENTICATED.
    expect((error as GraphQLError).extensions.http).toMatchObject({ status: 401 });
    expect((error as GraphQLError).originalError).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('trusts tokens until they expire when no session check is configured', async () => {
    const token = await auth.signer.sign({ userId: 'u1', roles: [], sessionId: 's1' });
    await expect(contextFor(appWith(), token)).resolves.toMatchObject({ viewer: { userId: 'u1' } });
  });
});
