import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { ServiceUnavailableError } from '@gatehouse/errors';
import { createLogger } from '@gatehouse/logger';
import type { Viewer } from './auth';
import { buildBaseContext } from './context';
import { createTestAuth } from './testing.test-support';

const auth = createTestAuth();
const logger = createLogger({ name: 'context-test', level: 'silent' });

function requestWith(token?: string): IncomingMessage {
  return { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } } as IncomingMessage;
}

async function expect401(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(GraphQLError);
  expect((error as GraphQLError).extensions.http).toMatchObject({ status: 401 });
}

describe('buildBaseContext', () => {
  const sessionViewer: Viewer = { userId: 'u1', roles: ['member'], sessionId: 'session-1' };

  it('authenticates a valid token, and treats a request without one as anonymous', async () => {
    const token = await auth.signer.sign(sessionViewer);
    const base = { requestId: 'r1', verifier: auth.verifier, logger };
    await expect(buildBaseContext({ ...base, req: requestWith(token) })).resolves.toMatchObject({
      viewer: sessionViewer,
    });
    await expect(buildBaseContext({ ...base, req: requestWith() })).resolves.toMatchObject({ viewer: null });
    await expect401(buildBaseContext({ ...base, req: requestWith('not.a.token') }));
  });

  describe('sessionCheck', () => {
    it('asks about the token’s session and rejects ended sessions with the invalid-token 401', async () => {
      const asked: Viewer[] = [];
      const activeSessions = new Set(['session-1']);
      const sessionCheck = async (viewer: Viewer) => {
        asked.push(viewer);
        return activeSessions.has(viewer.sessionId ?? '');
      };
      const token = await auth.signer.sign(sessionViewer);
      const input = {
        req: requestWith(token),
        requestId: 'r1',
        verifier: auth.verifier,
        logger,
        sessionCheck,
      };

      await expect(buildBaseContext(input)).resolves.toMatchObject({ viewer: sessionViewer });
      activeSessions.delete('session-1');
      await expect401(buildBaseContext(input));
      expect(asked).toEqual([sessionViewer, sessionViewer]);
    });

    it('is not asked for anonymous requests or tokens without a session', async () => {
      const sessionCheck = jest.fn(async () => false);
      const base = { requestId: 'r1', verifier: auth.verifier, logger, sessionCheck };
      const sessionless = await auth.signer.sign({ userId: 'service-account', roles: [] });
      await expect(buildBaseContext({ ...base, req: requestWith() })).resolves.toMatchObject({
        viewer: null,
      });
      await expect(buildBaseContext({ ...base, req: requestWith(sessionless) })).resolves.toMatchObject({
        viewer: { userId: 'service-account' },
      });
      expect(sessionCheck).not.toHaveBeenCalled();
    });

    it('is not asked when the token itself is invalid', async () => {
      const sessionCheck = jest.fn(async () => true);
      const other = createTestAuth();
      const forged = await other.signer.sign(sessionViewer);
      await expect401(
        buildBaseContext({
          req: requestWith(forged),
          requestId: 'r1',
          verifier: auth.verifier,
          logger,
          sessionCheck,
        }),
      );
      expect(sessionCheck).not.toHaveBeenCalled();
    });

    it('lets a failing session store fail the request instead of answering 401 (clients keep their tokens)', async () => {
      const outage = new ServiceUnavailableError('Session store unavailable');
      const token = await auth.signer.sign(sessionViewer);
      await expect(
        buildBaseContext({
          req: requestWith(token),
          requestId: 'r1',
          verifier: auth.verifier,
          logger,
          sessionCheck: () => Promise.reject(outage),
        }),
      ).rejects.toBe(outage);
    });
  });
});
