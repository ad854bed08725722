// Issue #5: the account flows through the gateway over HTTP against real PostgreSQL, Redis and an SMTP server:
// profile (cache, sanitising), avatar upload, email change, notification preferences with one-click unsubscribe,
// GDPR export with a signed download link, deactivation with reactivation, and deletion.
import { deflateSync, crc32 } from 'node:zlib';
import { createPasswordHasher, deriveSecret, OWASP_ARGON2ID, parseEncryptionKeys } from '@gatehouse/crypto';
import { UNSUBSCRIBE_SECRET_PURPOSE, createUnsubscribeTokens } from '@gatehouse/mail';
import { postGraphQL } from '@gatehouse/service/testing';
import { startTestSmtpServer, type TestSmtpServer } from '@gatehouse/testing';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

const PASSWORD = 'correct horse battery staple 42';
const USERS = ['ada', 'grace', 'edsger', 'barbara', 'alan', 'katherine', 'margaret'].map(
  (name) => `${name}@example.test`,
);

let smtp: TestSmtpServer;
let supergraph: Supergraph;
let origin: string;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  const passwordHash = await createPasswordHasher(OWASP_ARGON2ID).hash(PASSWORD);
  supergraph = await startSupergraph({
    seed: async (prisma) => {
      const member = await prisma.role.create({ data: { name: 'member', isSystem: true } });
      for (const email of USERS) {
        await prisma.user.create({
          data: {
            email,
            status: 'ACTIVE',
            emailVerified: true,
            passwordHash,
            roles: { create: { roleId: member.id } },
          },
        });
      }
    },
    identityEnv: { SMTP_URL: smtp.url },
  });
  origin = supergraph.graphqlUrl.replace(/\/graphql$/, '');
});

afterAll(async () => {
  await supergraph?.close();
  await smtp?.close();
});

interface ErrorShape {
  extensions?: { code?: string; details?: { reason?: string; reactivationMailed?: boolean } };
}
type Body<T> = { data?: T | null; errors?: ErrorShape[] };

const gql = async <T = Record<string, unknown>>(query: string, variables?: object, token?: string) =>
  (
    await postGraphQL<T>(supergraph.graphqlUrl, query, {
      ...(variables ? { variables: variables as Record<string, unknown> } : {}),
      ...(token ? { token } : {}),
    })
  ).body as Body<T>;
const reasonOf = (body: Body<unknown>) => body.errors?.[0]?.extensions?.details?.reason;
const codeOf = (body: Body<unknown>) => body.errors?.[0]?.extensions?.code;

const LOGIN = `mutation($i: LoginInput!) { login(input: $i) { ... on AuthPayload { accessToken } } }`;
async function signIn(email: string, password = PASSWORD) {
  return gql<{ login: { accessToken: string } }>(LOGIN, { i: { email, password } });
}
async function tokenOf(email: string): Promise<string> {
  const body = await signIn(email);
  if (!body.data?.login.accessToken) throw new Error(`sign-in failed: ${JSON.stringify(body.errors)}`);
  return body.data.login.accessToken;
}
const linkIn = (text: string, path: string) => {
  const match = new RegExp(`https?://[^\\s"<>]+${path}\\?[^\\s"<>]+`).exec(text);
  if (!match) throw new Error(`no ${path} link in: ${text}`);
  return match[0].replace(/&amp;/g, '&');
};
const tokenParam = (url: string) => new URL(url).searchParams.get('token')!;

/** A real RGB PNG of the given size (filter byte 0 per row, zlib stream, CRCs), no image library needed. */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.alloc(1 + width * 3, 0x7f);
  row[0] = 0;
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const uploadAvatar = (body: Buffer, token?: string) =>
  fetch(`${origin}/account/avatar`, {
    method: 'PUT',
    headers: { 'content-type': 'image/png', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });

it('profile: one query joins identity, account and access-control; edits are sanitised and validated', async () => {
  const email = USERS[0]!;
  const token = await tokenOf(email);
  const updated = await gql<{ updateProfile: { profile: { displayName: string; bio: string } | null } }>(
    `mutation($i: UpdateProfileInput!) { updateProfile(input: $i) {
      profile { displayName bio locale timezone } fieldErrors { field code } } }`,
    {
      i: {
        displayName: 'Ada <script>alert(1)</script>Lovelace',
        bio: '<img src=x onerror=alert(1)>Maths',
        locale: 'en-gb',
        timezone: 'Europe/London',
      },
    },
    token,
  );
  expect(updated.errors).toBeUndefined();
  const profile = updated.data!.updateProfile.profile!;
  expect(profile.displayName).not.toMatch(/[<>]|script/i);
  expect(profile.displayName).toContain('Ada');
  expect(profile.bio).not.toMatch(/[<>]|onerror/i);
  expect(updated.data!.updateProfile).toMatchObject({
    profile: { locale: 'en-GB', timezone: 'Europe/London' },
  });

  const invalid = await gql<{ updateProfile: { fieldErrors: { field: string; code: string }[] } }>(
    `mutation { updateProfile(input: { locale: "not a locale!", timezone: "Mars/Olympus" }) { fieldErrors { field code } } }`,
    undefined,
    token,
  );
  expect(invalid.data!.updateProfile.fieldErrors.map((e) => e.code).sort()).toEqual([
    'LOCALE_INVALID',
    'TIMEZONE_INVALID',
  ]);

  const me = await gql<{
    me: { email: string; roles: { name: string }[]; permissions: string[]; profile: object };
  }>(
    `{ me { email roles { name } permissions profile { displayName locale createdAt } } }`,
    undefined,
    token,
  );
  expect(me.errors).toBeUndefined();
  expect(me.data!.me).toMatchObject({ email, roles: [{ name: 'member' }], permissions: [] });
  expect(me.data!.me.profile).toMatchObject({ displayName: profile.displayName, locale: 'en-GB' });
});

it('avatar: upload through the gateway, thumbnails served, the old one removed; fakes, oversize and anonymous refused', async () => {
  const token = await tokenOf(USERS[1]!);
  expect((await uploadAvatar(png(64, 64))).status).toBe(401);

  const first = await uploadAvatar(png(400, 300), token);
  expect(first.status).toBe(200);
  const { avatar } = (await first.json()) as { avatar: { original: string; sizes: Record<string, string> } };
  const thumb = await fetch(avatar.sizes['150']!);
  expect(thumb.status).toBe(200);
  expect(thumb.headers.get('content-type')).toBe('image/webp');
  const bytes = Buffer.from(await thumb.arrayBuffer());
  expect(bytes.subarray(0, 4).toString('latin1')).toBe('RIFF');
  expect(bytes.subarray(8, 12).toString('latin1')).toBe('WEBP');

  const me = await gql<{ me: { profile: { avatar: { original: string; small: string } } } }>(
    `{ me { profile { avatar { original small } } } }`,
    undefined,
    token,
  );
  expect(me.data!.me.profile.avatar).toEqual({ original: avatar.original, small: avatar.sizes['50'] });

  const second = await uploadAvatar(png(200, 200), token);
  expect(second.status).toBe(200);
  const next = (await second.json()) as { avatar: { original: string } };
  expect(next.avatar.original).not.toBe(avatar.original);
  expect((await fetch(avatar.original)).status).toBe(404);

  const fake = await uploadAvatar(Buffer.from('<html><script>alert(1)</script></html>'), token);
  expect(fake.status).toBe(415);
  expect(await fake.json()).toMatchObject({ error: 'AVATAR_TYPE_UNSUPPORTED' });
  const huge = await uploadAvatar(Buffer.concat([png(8, 8), Buffer.alloc(6 * 1024 * 1024)]), token);
  expect(huge.status).toBe(413);
});

it('email change: confirmed from the new address, both addresses told, the link works once', async () => {
  const email = USERS[2]!;
  const token = await tokenOf(email);
  const REQUEST = `mutation($e: String!, $p: String!) { requestEmailChange(newEmail: $e, password: $p) }`;
  expect(
    reasonOf(await gql(REQUEST, { e: 'edsger@new.example.test', p: 'wrong password here' }, token)),
  ).toBe('INVALID_CREDENTIALS');
  expect((await gql(REQUEST, { e: 'edsger@new.example.test', p: PASSWORD }, token)).data).toEqual({
    requestEmailChange: true,
  });
  const confirmMail = await smtp.waitForMail((m) => m.to.includes('edsger@new.example.test'));
  await smtp.waitForMail((m) => m.to.includes(email) && /change/i.test(m.subject));
  // Nothing changed yet.
  expect((await signIn(email)).data?.login.accessToken).toEqual(expect.any(String));

  const CONFIRM = `mutation($t: String!) { confirmEmailChange(token: $t) { email emailVerified } }`;
  const t = tokenParam(linkIn(confirmMail.text, '/confirm-email-change'));
  expect((await gql(CONFIRM, { t })).data).toEqual({
    confirmEmailChange: { email: 'edsger@new.example.test', emailVerified: true },
  });
  await smtp.waitForMail((m) => m.to.includes(email) && /was changed/i.test(m.subject));
  expect(reasonOf(await gql(CONFIRM, { t }))).toBe('VERIFICATION_TOKEN_USED');
  expect((await signIn('edsger@new.example.test')).data?.login.accessToken).toEqual(expect.any(String));
  expect(reasonOf(await signIn(email))).toBe('INVALID_CREDENTIALS');
});

it('notification preferences: security locked, product opt-in, one-click unsubscribe works once', async () => {
  const email = USERS[3]!;
  const token = await tokenOf(email);
  const userId = (await gql<{ me: { id: string } }>(`{ me { id } }`, undefined, token)).data!.me.id;
  const PREFS = `{ me { notificationPreferences { channel category enabled locked } } }`;
  type Pref = { channel: string; category: string; enabled: boolean; locked: boolean };
  const prefs = async () =>
    (await gql<{ me: { notificationPreferences: Pref[] } }>(PREFS, undefined, token)).data!.me
      .notificationPreferences;
  const emailPref = async (category: string) =>
    (await prefs()).find((p) => p.channel === 'EMAIL' && p.category === category)!;
  expect(await emailPref('security')).toMatchObject({ enabled: true, locked: true });
  expect(await emailPref('product')).toMatchObject({ enabled: false, locked: false });

  const UPDATE = `mutation($c: [NotificationPreferenceInput!]!) { updateNotificationPreferences(changes: $c) { channel category enabled } }`;
  expect(
    reasonOf(await gql(UPDATE, { c: [{ channel: 'EMAIL', category: 'security', enabled: false }] }, token)),
  ).toBe('PREFERENCE_LOCKED');
  await gql(UPDATE, { c: [{ channel: 'EMAIL', category: 'product', enabled: true }] }, token);
  expect(await emailPref('product')).toMatchObject({ enabled: true });

  // The link a product mail carries (minted with the deployment's derived secret, as the mail worker does).
  const tokens = createUnsubscribeTokens({
    secret: deriveSecret(parseEncryptionKeys(supergraph.encryptionKeys), UNSUBSCRIBE_SECRET_PURPOSE),
  });
  const link = `${origin}/unsubscribe?token=${tokens.mint({ userId, category: 'product' }).token}`;
  // Opening it (a mail scanner prefetching) changes nothing.
  expect((await fetch(link)).status).toBe(200);
  expect(await emailPref('product')).toMatchObject({ enabled: true });
  const oneClick = () =>
    fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
  expect((await oneClick()).status).toBe(200);
  expect(await emailPref('product')).toMatchObject({ enabled: false });
  const reused = await oneClick();
  expect(reused.status).toBe(410);
  expect(await reused.text()).toContain('UNSUBSCRIBE_LINK_USED');
  const tampered = await fetch(
    link.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')),
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    },
  );
  expect(tampered.status).toBe(400);
});

it('GDPR export: a signed link mailed, the document holds the account, one at a time, tampering refused', async () => {
  const email = USERS[4]!;
  const token = await tokenOf(email);
  const REQUEST = `mutation { requestDataExport { id status } }`;
  const requested = await gql<{ requestDataExport: { id: string; status: string } }>(
    REQUEST,
    undefined,
    token,
  );
  expect(requested.errors).toBeUndefined();
  expect(['PENDING', 'RUNNING', 'READY']).toContain(requested.data!.requestDataExport.status);
  expect(['CONFLICT', 'RATE_LIMITED']).toContain(codeOf(await gql(REQUEST, undefined, token)));

  const mail = await smtp.waitForMail((m) => m.to.includes(email) && /export/i.test(m.subject), {
    timeoutMs: 20_000,
  });
  const url = linkIn(mail.text, '/files/exports/[^?\\s]+');
  const download = await fetch(url);
  expect(download.status).toBe(200);
  const document = (await download.json()) as { format: string; account: { email: string; id: string } };
  expect(document.format).toBe('gatehouse.user-export.v1');
  expect(document.account.email).toBe(email);
  expect(JSON.stringify(document)).not.toMatch(/\$argon2id\$/);

  const listed = await gql<{ me: { dataExports: { status: string; downloadUrl: string | null }[] } }>(
    `{ me { dataExports { status downloadUrl } } }`,
    undefined,
    token,
  );
  expect(listed.data!.me.dataExports[0]).toMatchObject({ status: 'READY', downloadUrl: expect.any(String) });

  const signed = new URL(url);
  signed.searchParams.set('signature', `${signed.searchParams.get('signature')!.slice(0, -2)}xx`);
  expect((await fetch(signed)).status).toBe(403);
  const extended = new URL(url);
  extended.searchParams.set('expires', String(Number(extended.searchParams.get('expires')) + 86_400));
  expect((await fetch(extended)).status).toBe(403);
});

it('deactivation ends every session; signing in again mails a reactivation link that works once', async () => {
  const email = USERS[5]!;
  const token = await tokenOf(email);
  const DEACTIVATE = `mutation($p: String!) { deactivateAccount(password: $p) }`;
  expect(reasonOf(await gql(DEACTIVATE, { p: 'not the right one' }, token))).toBe('INVALID_CREDENTIALS');
  expect((await gql(DEACTIVATE, { p: PASSWORD }, token)).data).toEqual({ deactivateAccount: true });
  await smtp.waitForMail((m) => m.to.includes(email) && /deactivated/i.test(m.subject));
  expect(codeOf(await gql(`{ me { email } }`, undefined, token))).toBe('UNAUTHENTICATED');

  const refused = await signIn(email);
  expect(refused.errors?.[0]?.extensions?.details).toMatchObject({
    reason: 'ACCOUNT_DEACTIVATED',
    reactivationMailed: true,
  });
  const mail = await smtp.waitForMail((m) => m.to.includes(email) && /reactivate/i.test(m.text + m.subject));
  const REACTIVATE = `mutation($t: String!) { reactivateAccount(token: $t) { email status } }`;
  const t = tokenParam(linkIn(mail.text, '/reactivate-account'));
  expect((await gql(REACTIVATE, { t })).data).toEqual({ reactivateAccount: { email, status: 'ACTIVE' } });
  expect(reasonOf(await gql(REACTIVATE, { t }))).toBe('REACTIVATION_TOKEN_USED');
  expect((await signIn(email)).data?.login.accessToken).toEqual(expect.any(String));
});

it('deletion ends every session, refuses sign-in, and names the purge date', async () => {
  const email = USERS[6]!;
  const token = await tokenOf(email);
  const DELETE = `mutation($p: String!) { deleteAccount(password: $p) }`;
  expect(reasonOf(await gql(DELETE, { p: 'nope nope nope' }, token))).toBe('INVALID_CREDENTIALS');
  const deleted = await gql<{ deleteAccount: string }>(DELETE, { p: PASSWORD }, token);
  expect(deleted.errors).toBeUndefined();
  const days = (Date.parse(deleted.data!.deleteAccount) - Date.now()) / 86_400_000;
  expect(days).toBeGreaterThan(29.9);
  expect(days).toBeLessThan(30.1);
  await smtp.waitForMail((m) => m.to.includes(email) && /deleted/i.test(m.subject));
  expect(codeOf(await gql(`{ me { email } }`, undefined, token))).toBe('UNAUTHENTICATED');
  expect(reasonOf(await signIn(email))).toBe('INVALID_CREDENTIALS');
  const row = await supergraph.db.prisma.user.findUniqueOrThrow({ where: { email } });
  expect(row.status).toBe('DELETED');
  expect(row.deletedAt).not.toBeNull();
});
