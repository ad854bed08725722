import { createHash, createHmac } from 'node:crypto';
import {
  followOAuthRedirects,
  startFakeFacebook,
  startFakeGitHub,
  type FakeFacebook,
  type FakeGitHub,
} from './oauth-fakes';

const CALLBACK = 'http://127.0.0.1:9/auth/oauth/x/callback';
const app = { clientId: 'app-id', clientSecret: 'app-secret', redirectUris: [CALLBACK] };
const VERIFIER = 'v'.repeat(43);
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');
const toCallback = { until: (url: URL) => url.toString().startsWith(CALLBACK) };

describe('fake GitHub', () => {
  let github: FakeGitHub;
  beforeAll(async () => {
    github = await startFakeGitHub(app);
  });
  afterAll(() => github?.close());

  async function authorize(scope = 'read:user user:email'): Promise<string> {
    const url = new URL(github.authorizeUrl);
    url.search = new URLSearchParams({
      client_id: app.clientId,
      redirect_uri: CALLBACK,
      scope,
      state: 's1',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
    }).toString();
    const callback = await followOAuthRedirects(url.toString(), toCallback);
    expect(callback.searchParams.get('state')).toBe('s1');
    return callback.searchParams.get('code')!;
  }

  const exchange = async (fields: Record<string, string>) =>
    (await (
      await fetch(github.tokenUrl, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: app.clientId, client_secret: app.clientSecret, ...fields }),
      })
    ).json()) as Record<string, string>;

  it('issues a single-use code, checks client secret and PKCE, and serves /user and /user/emails', async () => {
    github.setNextLogin({
      id: 42,
      login: 'octo',
      name: 'Octo Cat',
      emails: [{ email: 'octo@example.test', primary: true, verified: true }],
    });
    const code = await authorize();
    expect(await exchange({ code, code_verifier: VERIFIER, client_secret: 'wrong' })).toMatchObject({
      error: 'incorrect_client_credentials',
    });
    expect(await exchange({ code, code_verifier: 'w'.repeat(43) })).toMatchObject({
      error: 'bad_verification_code',
    });
    // The failed PKCE attempt consumed the code, as GitHub does.
    expect(await exchange({ code, code_verifier: VERIFIER })).toMatchObject({
      error: 'bad_verification_code',
    });

    const token = await exchange({
      code: await authorize(),
      code_verifier: VERIFIER,
      redirect_uri: CALLBACK,
    });
    expect(token).toMatchObject({ access_token: expect.stringMatching(/^gho_/), token_type: 'bearer' });
    const get = (path: string, headers: Record<string, string>) =>
      fetch(`${github.apiUrl}${path}`, { headers: { 'user-agent': 'test', ...headers } });
    expect((await get('/user', {})).status).toBe(401);
    const user = await get('/user', { authorization: `Bearer ${token.access_token}` });
    expect(await user.json()).toMatchObject({ id: 42, login: 'octo', name: 'Octo Cat' });
    const emails = await get('/user/emails', { authorization: `token ${token.access_token}` });
    expect(await emails.json()).toEqual([
      { email: 'octo@example.test', primary: true, verified: true, visibility: 'private' },
    ]);
    const noUserAgent = await fetch(`${github.apiUrl}/user`, {
      headers: { authorization: `Bearer ${token.access_token}`, 'user-agent': '' },
    });
    expect(noUserAgent.status).toBe(403);
  });

  it('answers /user/emails with 404 without the user:email scope, and honours failNext', async () => {
    github.setNextLogin({ id: 7, login: 'scoped', emails: [] });
    const token = await exchange({ code: await authorize('read:user'), code_verifier: VERIFIER });
    const headers = { authorization: `Bearer ${token.access_token}`, 'user-agent': 'test' };
    expect((await fetch(`${github.apiUrl}/user/emails`, { headers })).status).toBe(404);
    github.failNext('user', { status: 502, body: { message: 'Server Error' } });
    expect((await fetch(`${github.apiUrl}/user`, { headers })).status).toBe(502);
    expect((await fetch(`${github.apiUrl}/user`, { headers })).status).toBe(200);
  });

  it('redirects with access_denied when the user cancels, and refuses unknown redirect URIs', async () => {
    github.setNextLogin({ deny: true });
    const url = `${github.authorizeUrl}?client_id=${app.clientId}&redirect_uri=${encodeURIComponent(CALLBACK)}&state=s2`;
    const callback = await followOAuthRedirects(url, toCallback);
    expect(Object.fromEntries(callback.searchParams)).toMatchObject({ error: 'access_denied', state: 's2' });
    const elsewhere = `${github.authorizeUrl}?client_id=${app.clientId}&redirect_uri=${encodeURIComponent('http://evil.test/cb')}`;
    await expect(followOAuthRedirects(elsewhere, toCallback)).rejects.toThrow(/answered 400/);
  });
});

describe('fake Facebook', () => {
  let facebook: FakeFacebook;
  beforeAll(async () => {
    facebook = await startFakeFacebook({ ...app, requireAppSecretProof: true });
  });
  afterAll(() => facebook?.close());

  async function authorize(): Promise<URL> {
    const url = new URL(facebook.authorizeUrl);
    url.search = new URLSearchParams({
      client_id: app.clientId,
      redirect_uri: CALLBACK,
      state: 'f1',
      scope: 'email,public_profile',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
    }).toString();
    return followOAuthRedirects(url.toString(), toCallback);
  }

  it('exchanges a code (redirect_uri identical, PKCE) and serves the requested fields with appsecret_proof', async () => {
    facebook.setNextLogin({ id: '10001', name: 'Fay Book', email: 'fay@example.test' });
    const code = (await authorize()).searchParams.get('code')!;
    const exchange = (fields: Record<string, string>) =>
      fetch(facebook.tokenUrl, {
        method: 'POST',
        body: new URLSearchParams({
          client_id: app.clientId,
          client_secret: app.clientSecret,
          code,
          ...fields,
        }),
      });
    const mismatch = await exchange({ redirect_uri: `${CALLBACK}/other`, code_verifier: VERIFIER });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.json()).toMatchObject({ error: { type: 'OAuthException', code: 100 } });

    const code2 = (await authorize()).searchParams.get('code')!;
    const ok = await fetch(facebook.tokenUrl, {
      method: 'POST',
      body: new URLSearchParams({
        client_id: app.clientId,
        client_secret: app.clientSecret,
        code: code2,
        redirect_uri: CALLBACK,
        code_verifier: VERIFIER,
      }),
    });
    const { access_token: token } = (await ok.json()) as { access_token: string };
    const proof = createHmac('sha256', app.clientSecret).update(token).digest('hex');
    const me = await fetch(`${facebook.graphUrl}/me?fields=id,name,email&appsecret_proof=${proof}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await me.json()).toEqual({ id: '10001', name: 'Fay Book', email: 'fay@example.test' });
    const noProof = await fetch(`${facebook.graphUrl}/me?fields=id`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(noProof.status).toBe(400);
  });

  it('redirects with error_reason=user_denied when the user cancels', async () => {
    facebook.setNextLogin({ deny: true });
    const callback = await authorize();
    expect(Object.fromEntries(callback.searchParams)).toMatchObject({
      error: 'access_denied',
      error_reason: 'user_denied',
      state: 'f1',
    });
  });
});
