import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from './config-error';
import { DEFAULT_MAIL_FROM, INSECURE_DEV_ENCRYPTION_KEYS, concerns, type MailConfig } from './concerns';
import { loadConfig, loadConfigOrExit } from './load-config';

const { publicKey, privateKey } = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const encryptionKey = `k1:${randomBytes(32).toString('base64')}`;

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults', () => {
    const config = loadConfig(
      {
        runtime: concerns.runtime,
        database: concerns.database,
        redis: concerns.redis,
        http: concerns.http('IDENTITY', 4001),
        subgraphs: concerns.subgraphs,
        crypto: concerns.crypto,
        auth: concerns.auth,
      },
      { ENCRYPTION_KEYS: encryptionKey },
    );

    expect(config).toEqual({
      runtime: { NODE_ENV: 'development', LOG_LEVEL: 'info' },
      database: { DATABASE_POOL_MAX: 10 },
      redis: {},
      http: { IDENTITY_PORT: 4001, IDENTITY_HOST: '127.0.0.1' },
      subgraphs: {
        IDENTITY_URL: 'http://127.0.0.1:4001/graphql',
        ACCOUNT_URL: 'http://127.0.0.1:4002/graphql',
        ACCESS_CONTROL_URL: 'http://127.0.0.1:4003/graphql',
        BILLING_URL: 'http://127.0.0.1:4004/graphql',
      },
      crypto: {
        ENCRYPTION_KEYS: encryptionKey,
        ARGON2_MEMORY_KIB: 19456,
        ARGON2_TIME_COST: 2,
        ARGON2_PARALLELISM: 1,
      },
      auth: { JWT_ISSUER: 'http://127.0.0.1:4000', JWT_AUDIENCE: 'gatehouse' },
    });
  });

  it('parses and coerces set values', () => {
    const config = loadConfig(
      {
        runtime: concerns.runtime,
        database: concerns.database,
        http: concerns.http('access-control', 4003),
        subgraphs: concerns.subgraphs,
      },
      {
        NODE_ENV: 'test',
        LOG_LEVEL: 'debug',
        DATABASE_URL: 'postgresql://gatehouse@db:5432/gatehouse',
        DATABASE_POOL_MAX: ' 25 ',
        ACCESS_CONTROL_PORT: '5003',
        ACCESS_CONTROL_HOST: '0.0.0.0',
        BILLING_URL: 'https://billing.internal/graphql',
        UNRELATED: 'ignored',
      },
    );

    expect(config.runtime).toEqual({ NODE_ENV: 'test', LOG_LEVEL: 'debug' });
    expect(config.database).toEqual({
      DATABASE_URL: 'postgresql://gatehouse@db:5432/gatehouse',
      DATABASE_POOL_MAX: 25,
    });
    expect(config.http.ACCESS_CONTROL_PORT).toBe(5003);
    expect(config.http.ACCESS_CONTROL_HOST).toBe('0.0.0.0');
    expect(config.subgraphs.ACCESS_CONTROL_URL).toBe('http://127.0.0.1:5003/graphql');
    expect(config.subgraphs.BILLING_URL).toBe('https://billing.internal/graphql');
  });

  it('infers the type of each concern', () => {
    const config = loadConfig({ http: concerns.http('IDENTITY', 4001), auth: concerns.auth }, {});
    const identityPort: number = config.http.IDENTITY_PORT;
    const publicKeyPem: string | undefined = config.auth.JWT_PUBLIC_KEY;
    // @ts-expect-error -- concerns.http('IDENTITY') has only IDENTITY_* variables
    expect(config.http.BILLING_PORT).toBeUndefined();
    expect([identityPort, publicKeyPem]).toEqual([4001, undefined]);
  });

  it('treats empty strings as unset', () => {
    const config = loadConfig(
      { database: concerns.database, http: concerns.http('GATEWAY', 4000) },
      { DATABASE_URL: '', DATABASE_POOL_MAX: '  ', GATEWAY_PORT: '' },
    );
    expect(config.database).toEqual({ DATABASE_POOL_MAX: 10 });
    expect(config.http.GATEWAY_PORT).toBe(4000);
  });

  it('reports every wrong variable of every concern in one error', () => {
    const error = configError(() =>
      loadConfig(
        { runtime: concerns.runtime, database: concerns.database, http: concerns.http('IDENTITY', 4001) },
        { LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://root:s3cr3t-pw@db/app', IDENTITY_PORT: '70000' },
      ),
    );

    expect(error.issues).toEqual([
      { variable: 'LOG_LEVEL', message: 'must be one of fatal, error, warn, info, debug, trace, silent' },
      { variable: 'DATABASE_URL', message: 'must be a postgres:// URL' },
      { variable: 'IDENTITY_PORT', message: 'expected an integer 1-65535' },
    ]);
    expect(error.message).toBe(
      [
        'Invalid configuration:',
        '  - LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
        '  - DATABASE_URL: must be a postgres:// URL',
        '  - IDENTITY_PORT: expected an integer 1-65535',
      ].join('\n'),
    );
    expect(error.message).not.toContain('s3cr3t-pw');
  });

  it('reports a variable shared by two concerns once', () => {
    const error = configError(() =>
      loadConfig(
        { http: concerns.http('IDENTITY', 4001), subgraphs: concerns.subgraphs },
        { IDENTITY_PORT: 'x' },
      ),
    );
    expect(error.issues).toEqual([{ variable: 'IDENTITY_PORT', message: 'expected an integer 1-65535' }]);
  });

  it('validates encryption keys without echoing them', () => {
    const short = randomBytes(16).toString('base64');
    const error = configError(() =>
      loadConfig({ crypto: concerns.crypto }, { ENCRYPTION_KEYS: `k2:${short},k1:not*base64` }),
    );
    expect(error.issues.map((issue) => issue.variable)).toEqual(['ENCRYPTION_KEYS', 'ENCRYPTION_KEYS']);
    expect(error.message).not.toContain(short);
    expect(
      loadConfig({ crypto: concerns.crypto }, { ENCRYPTION_KEYS: encryptionKey }).crypto.ENCRYPTION_KEYS,
    ).toBe(encryptionKey);
  });

  it('accepts custom concerns and says "is required" for missing variables', () => {
    const stripe = z.object({
      STRIPE_SECRET_KEY: z.string().startsWith('sk_', { error: 'must start with sk_' }),
    });
    expect(loadConfig({ stripe }, { STRIPE_SECRET_KEY: 'sk_test_1' }).stripe.STRIPE_SECRET_KEY).toBe(
      'sk_test_1',
    );
    expect(configError(() => loadConfig({ stripe }, {})).issues).toEqual([
      { variable: 'STRIPE_SECRET_KEY', message: 'is required' },
    ]);
  });
});

describe('production rules', () => {
  const production = {
    runtime: concerns.runtime,
    crypto: concerns.crypto,
    auth: concerns.auth,
    signing: concerns.tokenSigning,
  };

  it('requires ENCRYPTION_KEYS and both JWT keys, reported together with other problems', () => {
    const error = configError(() =>
      loadConfig(production, { NODE_ENV: 'production', ARGON2_TIME_COST: '0' }),
    );
    expect(error.issues).toEqual([
      { variable: 'ENCRYPTION_KEYS', message: 'is required' },
      { variable: 'ARGON2_TIME_COST', message: 'expected an integer 1-100' },
      { variable: 'JWT_PUBLIC_KEY', message: 'is required when NODE_ENV=production' },
      { variable: 'JWT_PRIVATE_KEY', message: 'is required when NODE_ENV=production' },
    ]);
  });

  it('asks for the private key only where token signing is configured', () => {
    const error = configError(() => loadConfig({ auth: concerns.auth }, { NODE_ENV: 'production' }));
    expect(error.issues).toEqual([
      { variable: 'JWT_PUBLIC_KEY', message: 'is required when NODE_ENV=production' },
    ]);
  });

  it('starts with real keys, including PEM written on one line with \\n escapes', () => {
    const config = loadConfig(production, {
      NODE_ENV: 'production',
      ENCRYPTION_KEYS: encryptionKey,
      JWT_PUBLIC_KEY: publicKey.replace(/\n/g, '\\n'),
      JWT_PRIVATE_KEY: privateKey,
    });
    expect(config.crypto.ENCRYPTION_KEYS).toBe(encryptionKey);
    expect(config.auth.JWT_PUBLIC_KEY).toBe(publicKey);
    expect(config.signing.JWT_PRIVATE_KEY).toBe(privateKey);
  });

  it('rejects keys that are not PEM SPKI / PKCS#8 without echoing them', () => {
    const error = configError(() =>
      loadConfig(
        { auth: concerns.auth, signing: concerns.tokenSigning },
        { JWT_PUBLIC_KEY: privateKey, JWT_PRIVATE_KEY: 'super-secret-garbage' },
      ),
    );
    expect(error.issues).toEqual([
      {
        variable: 'JWT_PUBLIC_KEY',
        message: 'must be PEM-encoded SPKI public key(s), a public JWK or a JWKS (JSON)',
      },
      {
        variable: 'JWT_PRIVATE_KEY',
        message: 'must be a PEM-encoded PKCS#8 private key or a private JWK (JSON)',
      },
    ]);
    expect(error.message).not.toContain('super-secret-garbage');
    expect(error.message).not.toContain('PRIVATE KEY-----\n');
  });

  it('accepts keys as JWK and several public keys as a JWKS, and refuses a private JWK as a public key', () => {
    const publicJwk = createPublicKey(publicKey).export({ format: 'jwk' });
    const privateJwk = createPrivateKey(privateKey).export({ format: 'jwk' });
    const config = loadConfig(
      { auth: concerns.auth, signing: concerns.tokenSigning },
      {
        JWT_PUBLIC_KEY: JSON.stringify({ keys: [publicJwk, publicJwk] }),
        JWT_PRIVATE_KEY: JSON.stringify(privateJwk),
      },
    );
    expect(JSON.parse(config.auth.JWT_PUBLIC_KEY!)).toEqual({ keys: [publicJwk, publicJwk] });
    const error = configError(() =>
      loadConfig({ auth: concerns.auth }, { JWT_PUBLIC_KEY: JSON.stringify(privateJwk) }),
    );
    expect(error.issues.map((issue) => issue.variable)).toEqual(['JWT_PUBLIC_KEY']);
    expect(error.message).not.toContain(String(privateJwk.d));
  });

  it('leaves JWT keys unset outside production (npm start generates a pair)', () => {
    const config = loadConfig(production, { NODE_ENV: 'test', ENCRYPTION_KEYS: encryptionKey });
    expect(config.auth.JWT_PUBLIC_KEY).toBeUndefined();
    expect(config.signing.JWT_PRIVATE_KEY).toBeUndefined();
  });

  // Issue #14: outside production ENCRYPTION_KEYS fell back to a key published in the source.
  it('requires ENCRYPTION_KEYS in every environment and refuses the published development key', () => {
    for (const NODE_ENV of ['development', 'test', 'production']) {
      expect(configError(() => loadConfig(production, { NODE_ENV })).issues).toContainEqual({
        variable: 'ENCRYPTION_KEYS',
        message: 'is required',
      });
      const published = INSECURE_DEV_ENCRYPTION_KEYS.split(':')[1]!;
      for (const keys of [
        INSECURE_DEV_ENCRYPTION_KEYS,
        `mine:${published}`,
        `${encryptionKey},old:${published.replace(/\+/g, '-').replace(/\//g, '_')}`,
      ]) {
        expect(
          configError(() => loadConfig({ crypto: concerns.crypto }, { NODE_ENV, ENCRYPTION_KEYS: keys }))
            .issues,
        ).toEqual([
          {
            variable: 'ENCRYPTION_KEYS',
            message: 'must not be the published development key (generate your own)',
          },
        ]);
      }
    }
  });
});

describe('mail', () => {
  it('defaults to the development outbox', () => {
    const config: { mail: MailConfig } = loadConfig({ mail: concerns.mail }, {});
    expect(config.mail).toEqual({
      MAIL_FROM: DEFAULT_MAIL_FROM,
      MAIL_OUTBOX_DIR: '.data/outbox',
      PUBLIC_URL: 'http://127.0.0.1:4000',
    });
    expect(DEFAULT_MAIL_FROM).toBe('Gatehouse <no-reply@gatehouse.local>');
  });

  it('accepts SMTP URLs, plain and named senders, and drops trailing slashes from PUBLIC_URL', () => {
    const env = {
      SMTP_URL: 'smtps://mailer:p%40ss@smtp.example.com:465',
      MAIL_FROM: 'accounts@example.com',
      MAIL_OUTBOX_DIR: '/var/tmp/outbox',
      PUBLIC_URL: 'https://id.example.com/',
    };
    expect(loadConfig({ mail: concerns.mail }, env).mail).toEqual({
      ...env,
      PUBLIC_URL: 'https://id.example.com',
    });
    for (const from of ['Acme Accounts <accounts@acme.io>', '<accounts@acme.io>', 'Zoë <z@acme.io>']) {
      expect(loadConfig({ mail: concerns.mail }, { MAIL_FROM: from }).mail.MAIL_FROM).toBe(from);
    }
    expect(loadConfig({ mail: concerns.mail }, { SMTP_URL: 'smtp://127.0.0.1:2525' }).mail.SMTP_URL).toBe(
      'smtp://127.0.0.1:2525',
    );
  });

  it('rejects malformed values without echoing the SMTP credentials', () => {
    const error = configError(() =>
      loadConfig(
        { mail: concerns.mail },
        {
          SMTP_URL: 'https://mailer:s3cr3t-pw@smtp.example.com',
          MAIL_FROM: 'Acme accounts@acme.io',
          PUBLIC_URL: 'ftp://x',
        },
      ),
    );
    expect(error.issues).toEqual([
      { variable: 'SMTP_URL', message: 'must be an smtp:// or smtps:// URL' },
      {
        variable: 'MAIL_FROM',
        message: 'must be an e-mail address, optionally with a name: Name <address@example.com>',
      },
      { variable: 'PUBLIC_URL', message: 'must be an http:// or https:// URL' },
    ]);
    expect(error.message).not.toContain('s3cr3t-pw');
  });

  it.each([
    'no-at-sign',
    'Acme <accounts@acme.io',
    'X\r\nBcc: victim <a@b.c>',
    '"Quoted" <a@b.c>',
    'a@b.c, d@e.f',
  ])('rejects the sender %j (one address, nothing that could inject headers)', (from) => {
    expect(configError(() => loadConfig({ mail: concerns.mail }, { MAIL_FROM: from })).issues).toEqual([
      expect.objectContaining({ variable: 'MAIL_FROM' }),
    ]);
  });

  it('requires SMTP_URL in production, where an outbox would lose mail', () => {
    expect(configError(() => loadConfig({ mail: concerns.mail }, { NODE_ENV: 'production' })).issues).toEqual(
      [{ variable: 'SMTP_URL', message: 'is required when NODE_ENV=production' }],
    );
    const smtp = 'smtp://smtp.internal:587';
    expect(
      loadConfig({ mail: concerns.mail }, { NODE_ENV: 'production', SMTP_URL: smtp }).mail.SMTP_URL,
    ).toBe(smtp);
  });
});

describe('loadConfigOrExit', () => {
  it('prints the problems and exits with status 1', () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation(() => {
      throw new Error('exit called');
    });
    const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => loadConfigOrExit({ redis: concerns.redis }, { REDIS_URL: 'http://cache' })).toThrow(
        'exit called',
      );
      expect(exit).toHaveBeenCalledWith(1);
      expect(stderr).toHaveBeenCalledWith(
        'Invalid configuration:\n  - REDIS_URL: must be a redis:// or rediss:// URL',
      );
    } finally {
      exit.mockRestore();
      stderr.mockRestore();
    }
  });
});
