// A real OpenID Connect provider (`oidc-provider` from npm) for tests, run as a child process by
// `startTestOidcProvider` (oidc-provider.ts): the package is ESM-only and Jest here runs CommonJS.
//
// Configuration comes as JSON in the OIDC_TEST_PROVIDER_CONFIG environment variable:
//   { clients: [{ clientId, clientSecret, redirectUris, tokenEndpointAuthMethod? }], controlToken }
// Once listening on a free 127.0.0.1 port it prints one line `OIDC_TEST_PROVIDER_READY {"issuer":"..."}`.
//
// There is no login form: the interaction handler completes every login for the account set through the control
// endpoint (POST /__control/login with `authorization: Bearer <controlToken>`, body
// `{ sub, email?, email_verified?, name? }` or `{ deny: true }`), grants consent to every requested scope, or
// denies the login with `access_denied` like a user pressing "Cancel".
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_TEST_PROVIDER_CONFIG ?? '{}');
if (!Array.isArray(config.clients) || typeof config.controlToken !== 'string') {
  console.error('OIDC_TEST_PROVIDER_CONFIG must hold { clients: [...], controlToken }');
  process.exit(2);
}

/** What the next interactions do: sign in this account, or deny. */
let behaviour = { deny: true };
/** Claims of every account that has signed in, by subject (the provider asks for them after the login). */
const accounts = new Map();

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'test-key' };

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    client_id: client.clientId,
    client_secret: client.clientSecret,
    redirect_uris: client.redirectUris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: client.tokenEndpointAuthMethod ?? 'client_secret_basic',
  })),
  // Like Google for web clients with PKCE enforced: S256 only, and required.
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'email', 'profile'],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const claims = accounts.get(sub);
    if (!claims) return undefined;
    return { accountId: sub, claims: async () => ({ ...claims, sub }) };
  },
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error', error));

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (behaviour.deny) {
    return provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
  }
  if (details.prompt.name === 'login') {
    const { sub, ...claims } = behaviour;
    accounts.set(sub, claims);
    return provider.interactionFinished(
      req,
      res,
      { login: { accountId: sub } },
      { mergeWithLastSubmission: false },
    );
  }
  if (details.prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    return provider.interactionFinished(
      req,
      res,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
  }
  res.writeHead(501).end(`prompt ${details.prompt.name} is not implemented by the test provider`);
}

async function control(req, res) {
  if (req.headers.authorization !== `Bearer ${config.controlToken}`) return res.writeHead(401).end();
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (body.deny === true) behaviour = { deny: true };
  else if (typeof body.sub === 'string' && body.sub) behaviour = body;
  else return res.writeHead(400).end('expected { sub, ... } or { deny: true }');
  res.writeHead(204).end();
}

const callback = provider.callback();
server.on('request', (req, res) => {
  const path = (req.url ?? '/').split('?', 1)[0];
  let handled;
  if (req.method === 'POST' && path === '/__control/login') handled = control(req, res);
  else if (req.method === 'GET' && /^\/interaction\/[^/]+$/.test(path)) handled = interaction(req, res);
  else return callback(req, res);
  handled.catch((error) => {
    console.error('test OIDC provider: request failed', error);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});

function shutDown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', shutDown);
// The parent holds our stdin open: when it goes away (even killed), so do we.
process.stdin.on('end', shutDown);
process.stdin.resume();
process.stdout.write(`OIDC_TEST_PROVIDER_READY ${JSON.stringify({ issuer })}\n`);
