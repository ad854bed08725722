import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** One OAuth client registered at the test provider. */
export interface TestOidcClient {
  clientId: string;
  clientSecret: string;
  /** Exact redirect URIs, as a real provider's client registration holds them. */
  redirectUris: string[];
  /** How the client authenticates at the token endpoint. Default `client_secret_basic` (the OIDC default). */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post';
}

/** The account the provider signs in at its next interactions (its "user" typing a password). */
export interface TestOidcAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface TestOidcProviderOptions {
  clients: TestOidcClient[];
  /** Default 10 s: the child process loads oidc-provider and generates an RSA key. */
  startTimeoutMs?: number;
}

export interface TestOidcProvider {
  /** `http://127.0.0.1:<port>`; discovery is at `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  /**
   * What the provider's user does from now on (until called again): sign in as `account` and consent to every
   * requested scope, or `{ deny: true }` to cancel, which sends `error=access_denied` to the client. Until the
   * first call every interaction is denied.
   */
  setNextLogin(login: TestOidcAccount | { deny: true }): Promise<void>;
  /** Stops the child process. Idempotent. */
  close(): Promise<void>;
}

const READY_MARKER = 'OIDC_TEST_PROVIDER_READY ';

/**
 * Starts a real OpenID Connect provider (`oidc-provider`, the certified implementation) on a free 127.0.0.1
 * port, in a child process (it is ESM-only). PKCE (S256) is required, ID tokens are RS256-signed with a fresh
 * key published at its JWKS endpoint, `email`/`email_verified` go out through the userinfo endpoint, and
 * authorization responses carry `iss` (RFC 9207). Drive a login by following the authorization URL's redirects
 * (see `followOAuthRedirects`) after {@link TestOidcProvider.setNextLogin}.
 */
export async function startTestOidcProvider(options: TestOidcProviderOptions): Promise<TestOidcProvider> {
  const controlToken = randomBytes(24).toString('hex');
  const child = spawn(process.execPath, [path.join(__dirname, 'oidc-provider-server.mjs')], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      OIDC_TEST_PROVIDER_CONFIG: JSON.stringify({ clients: options.clients, controlToken }),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const issuer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the test OIDC provider did not start in time:\n${output}`)),
      options.startTimeoutMs ?? 10_000,
    );
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (!line.startsWith(READY_MARKER)) return;
      clearTimeout(timer);
      resolve((JSON.parse(line.slice(READY_MARKER.length)) as { issuer: string }).issuer);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the test OIDC provider exited with ${code}:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw error;
  });

  let closed: Promise<void> | undefined;
  return {
    issuer,
    async setNextLogin(login) {
      const response = await fetch(`${issuer}/__control/login`, {
        method: 'POST',
        headers: { authorization: `Bearer ${controlToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(login),
      });
      if (response.status !== 204) {
        throw new Error(
          `the test OIDC provider refused the login: ${response.status} ${await response.text()}`,
        );
      }
    },
    close: () =>
      (closed ??= (async () => {
        child.stdin.end();
        child.kill('SIGTERM');
        await exited;
      })()),
  };
}
