import { createHash, randomBytes } from 'node:crypto';
import { followOAuthRedirects } from './oauth-fakes';
import { startTestOidcProvider, type TestOidcProvider } from './oidc-provider';

const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const client = { clientId: 'test-client', clientSecret: 'test-secret', redirectUris: [REDIRECT_URI] };

let provider: TestOidcProvider;
let discovery: Record<string, unknown>;

beforeAll(async () => {
  provider = await startTestOidcProvider({ clients: [client] });
  discovery = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()) as Record<
    string,
    unknown
  >;
}, 20_000);

afterAll(async () => {
  await provider?.close();
});

function authorizationUrl(params: Record<string, string>): string {
  const url = new URL(discovery.authorization_endpoint as string);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    state: 'st',
    nonce: 'n0nce',
    ...params,
  }).toString();
  return url.toString();
}

const toCallback = { until: (url: URL) => url.toString().startsWith(REDIRECT_URI) };
const basic = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;

async function redeem(code: string, verifier: string) {
  const response = await fetch(discovery.token_endpoint as string, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('test OpenID provider', () => {
  it('publishes discovery for its issuer with PKCE S256 and iss in authorization responses', () => {
    expect(discovery).toMatchObject({
      issuer: provider.issuer,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
  });

  it('signs in the account set by the test, with PKCE, and serves its claims at userinfo', async () => {
    await provider.setNextLogin({
      sub: 'alice-1',
      email: 'alice@example.test',
      email_verified: true,
      name: 'Alice',
    });
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const callback = await followOAuthRedirects(
      authorizationUrl({ code_challenge: challenge, code_challenge_method: 'S256' }),
      toCallback,
    );
    expect(callback.searchParams.get('state')).toBe('st');
    expect(callback.searchParams.get('iss')).toBe(provider.issuer);
    const code = callback.searchParams.get('code');
    expect(code).toEqual(expect.any(String));

    const wrongVerifier = await redeem(code!, randomBytes(32).toString('base64url'));
    expect(wrongVerifier).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    // Like real providers, oidc-provider consumes a code on any redemption attempt: sign in again.
    const second = await followOAuthRedirects(
      authorizationUrl({ code_challenge: challenge, code_challenge_method: 'S256' }),
      toCallback,
    );
    const tokens = await redeem(second.searchParams.get('code')!, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ id_token: expect.any(String), access_token: expect.any(String) });
    const idToken = JSON.parse(
      Buffer.from((tokens.body.id_token as string).split('.')[1]!, 'base64url').toString('utf8'),
    ) as Record<string, unknown>;
    expect(idToken).toMatchObject({
      sub: 'alice-1',
      nonce: 'n0nce',
      aud: client.clientId,
      iss: provider.issuer,
    });

    const userinfo = await fetch(discovery.userinfo_endpoint as string, {
      headers: { authorization: `Bearer ${tokens.body.access_token as string}` },
    });
    expect(await userinfo.json()).toEqual({
      sub: 'alice-1',
      email: 'alice@example.test',
      email_verified: true,
      name: 'Alice',
    });
  });

  it('requires PKCE', async () => {
    await provider.setNextLogin({ sub: 'bob' });
    const callback = await followOAuthRedirects(authorizationUrl({}), toCallback);
    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('denies consent with access_denied when told to', async () => {
    await provider.setNextLogin({ deny: true });
    const challenge = createHash('sha256').update('v'.repeat(43)).digest('base64url');
    const callback = await followOAuthRedirects(
      authorizationUrl({ code_challenge: challenge, code_challenge_method: 'S256' }),
      toCallback,
    );
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe('st');
  });
});
