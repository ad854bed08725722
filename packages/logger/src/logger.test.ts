import { currentLogContext, runWithLogContext } from './log-context';
import { childForRequest, createLogger, type LogLevel } from './logger';
import { REDACTED, isSecretKey, redactSecrets } from './redact';

/** A destination that keeps every JSON line pino writes. */
function capture(level?: LogLevel) {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'identity',
    level,
    destination: { write: (line) => lines.push(line) },
  });
  const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, records };
}

describe('createLogger', () => {
  it('writes JSON with an ISO time, a textual level and the service name', () => {
    const { logger, records } = capture();
    logger.info({ userId: 'u1' }, 'signed in');

    const [record] = records();
    expect(record).toMatchObject({ level: 'info', service: 'identity', userId: 'u1', msg: 'signed in' });
    expect(new Date(record!.time as string).toISOString()).toBe(record!.time);
  });

  it('honours the level', () => {
    const { logger, records } = capture('warn');
    logger.info('hidden');
    logger.warn('shown');
    expect(records().map((r) => r.msg)).toEqual(['shown']);
  });

  it('redacts secrets at any depth and never writes their values', () => {
    const { logger, lines, records } = capture();
    logger.info(
      {
        password: 'hunter2-a',
        input: { newPassword: 'hunter2-b', email: 'a@example.com' },
        req: {
          headers: { authorization: 'Bearer hunter2-c', cookie: 'sid=hunter2-d', 'user-agent': 'curl' },
        },
        tokens: [{ accessToken: 'hunter2-e', refreshToken: 'hunter2-f', tokenExpiresAt: '2030-01-01' }],
        deeply: {
          nested: { provider: { client_secret: 'hunter2-g', apiKey: 'hunter2-h', token: 'hunter2-i' } },
        },
        secret: 'hunter2-j',
      },
      'login attempt',
    );

    const output = lines.join('');
    expect(output).not.toContain('hunter2');
    const [record] = records();
    expect(record).toMatchObject({
      password: REDACTED,
      input: { newPassword: REDACTED, email: 'a@example.com' },
      req: { headers: { authorization: REDACTED, cookie: REDACTED, 'user-agent': 'curl' } },
      tokens: [{ accessToken: REDACTED, refreshToken: REDACTED, tokenExpiresAt: '2030-01-01' }],
      deeply: { nested: { provider: { client_secret: REDACTED, apiKey: REDACTED, token: REDACTED } } },
      secret: REDACTED,
    });
  });

  it('redacts secrets in child bindings', () => {
    const { logger, lines } = capture();
    const child = logger.child({ session: { refreshToken: 'hunter2' }, userId: 'u1' });
    child.child({ apiKey: 'hunter2' }).child({ step: 2 }).info('refreshed');
    expect(lines.join('')).not.toContain('hunter2');
    expect(JSON.parse(lines[0]!)).toMatchObject({ userId: 'u1', apiKey: REDACTED, step: 2 });
  });

  it('does not modify the logged object', () => {
    const { logger } = capture();
    const input = { credentials: { password: 'hunter2' } };
    logger.info(input);
    expect(input.credentials.password).toBe('hunter2');
  });

  it('serializes errors with their message and stack', () => {
    const { logger, records } = capture();
    logger.error({ err: new Error('boom') }, 'failed');
    expect(records()[0]).toMatchObject({ err: { type: 'Error', message: 'boom' } });
  });

  it('tags request-scoped lines with the request id', () => {
    const { logger, records } = capture();
    childForRequest(logger, 'req-123').info('handled');
    expect(records()[0]).toMatchObject({ requestId: 'req-123', service: 'identity' });
  });
});

describe('redactSecrets', () => {
  it('handles cycles and leaves class instances alone', () => {
    const cyclic: Record<string, unknown> = { token: 'x' };
    cyclic.self = cyclic;
    const date = new Date(0);
    expect(redactSecrets({ cyclic, date })).toEqual({
      cyclic: { token: REDACTED, self: '[Circular]' },
      date,
    });
  });

  it('recognises secret field names without hiding harmless ones', () => {
    for (const key of [
      'password',
      'currentPassword',
      'x-api-key',
      'set-cookie',
      'JWT_PRIVATE_KEY',
      'otp',
      'id_token',
    ]) {
      expect(isSecretKey(key)).toBe(true);
    }
    for (const key of ['email', 'tokenExpiresAt', 'passwordChangedAt', 'keyId', 'userId']) {
      expect(isSecretKey(key)).toBe(false);
    }
  });
});

describe('runWithLogContext', () => {
  it('adds the scope fields to every line written inside it, by any logger, across awaits', async () => {
    const { logger, records } = capture();
    const unrelated = childForRequest(logger, 'req-1');
    await runWithLogContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }, async () => {
      logger.info('first');
      await new Promise((resolve) => setImmediate(resolve));
      unrelated.warn('after an await');
      expect(currentLogContext()).toEqual({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) });
    });
    logger.info('outside');

    const [first, second, outside] = records();
    expect(first).toMatchObject({ msg: 'first', traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) });
    expect(second).toMatchObject({ msg: 'after an await', requestId: 'req-1', traceId: 'a'.repeat(32) });
    expect(outside).not.toHaveProperty('traceId');
    expect(currentLogContext()).toBeUndefined();
  });

  it('keeps concurrent scopes apart and lets the logged object win', async () => {
    const { logger, records } = capture();
    await Promise.all(
      ['1', '2'].map((n) =>
        runWithLogContext({ traceId: n.repeat(32) }, async () => {
          await new Promise((resolve) => setImmediate(resolve));
          logger.info({ n }, 'line');
        }),
      ),
    );
    runWithLogContext({ traceId: 'c'.repeat(32) }, () => logger.info({ traceId: 'explicit' }, 'override'));
    const lines = records();
    expect(lines.slice(0, 2).map((r) => [r.n, r.traceId])).toEqual(
      expect.arrayContaining([
        ['1', '1'.repeat(32)],
        ['2', '2'.repeat(32)],
      ]),
    );
    expect(lines[2]).toMatchObject({ traceId: 'explicit' });
    // The scope's own fields were not modified by the merge.
    runWithLogContext({ traceId: 'd'.repeat(32) }, () => {
      logger.info({ traceId: 'x' }, 'one');
      logger.info('two');
    });
    expect(records()[4]).toMatchObject({ traceId: 'd'.repeat(32) });
  });
});
