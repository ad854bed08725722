import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { createOutboxTransport, type OutboxEntry } from './outbox-transport';
import { renderMail } from './render';
import { createSmtpTransport } from './smtp-transport';
import { startTestSmtpServer, type TestSmtpServer } from '@gatehouse/testing';
import { extractLinks } from './links';
import { MailSendError, type MailTransport } from './transport';

const FROM = 'Gatehouse <no-reply@gatehouse.test>';
const verifyUrl = 'https://id.example.com/verify-email?token=dGhpcyBpcyBhIHRva2VuIHdpdGggYSBsb25nIHRhaWw';
const rendered = renderMail('verify-email', { name: 'Ada', verifyUrl, expiresInHours: 24 });
const mail = { to: 'ada@example.com', ...rendered, headers: { 'Auto-Submitted': 'auto-generated' } };

describe('createOutboxTransport', () => {
  let dir: string;

  beforeEach(async () => {
    dir = path.join(await mkdtemp(path.join(tmpdir(), 'gatehouse-outbox-')), 'nested', 'outbox');
  });
  afterEach(() => rm(path.dirname(path.dirname(dir)), { recursive: true, force: true }));

  it('writes a complete .eml and a .json summary a developer can read', async () => {
    const transport = createOutboxTransport({ dir, from: FROM });
    const { messageId } = await transport.send(mail);
    await transport.close();

    const files = (await readdir(dir)).sort();
    expect(files).toHaveLength(2);
    const [eml, json] = files as [string, string];
    expect(eml).toMatch(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z-[0-9a-f]{12}\.eml$/);
    expect(json).toBe(eml.replace(/\.eml$/, '.json'));

    const parsed = await simpleParser(await readFile(path.join(dir, eml)));
    expect(parsed.subject).toBe(rendered.subject);
    expect(parsed.from?.value).toEqual([{ name: 'Gatehouse', address: 'no-reply@gatehouse.test' }]);
    expect(parsed.text).toContain(verifyUrl);
    expect(parsed.html).toContain('Verify email address');
    expect(parsed.headers.get('auto-submitted')).toBe('auto-generated');
    expect(parsed.messageId).toBe(messageId);

    const entry = JSON.parse(await readFile(path.join(dir, json), 'utf8')) as OutboxEntry;
    expect(entry).toEqual({
      messageId,
      from: FROM,
      to: 'ada@example.com',
      subject: rendered.subject,
      date: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      links: [verifyUrl],
      text: rendered.text,
      eml,
    });
    // Mail holds single-use links: only the owner may read it.
    expect((await stat(path.join(dir, eml))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('names files so they sort in sending order', async () => {
    const transport = createOutboxTransport({ dir, from: FROM });
    for (const subject of ['first', 'second', 'third']) {
      await transport.send({ ...mail, subject });
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const summaries = (await readdir(dir)).filter((file) => file.endsWith('.json')).sort();
    const subjects = await Promise.all(
      summaries.map(
        async (file) => (JSON.parse(await readFile(path.join(dir, file), 'utf8')) as OutboxEntry).subject,
      ),
    );
    expect(subjects).toEqual(['first', 'second', 'third']);
  });
});

describe('createSmtpTransport', () => {
  const credentials = { user: 'mailer', pass: 'p@ss:w0rd/with%chars' };
  let server: TestSmtpServer;
  let transport: MailTransport;

  beforeAll(async () => {
    server = await startTestSmtpServer({ auth: credentials });
    transport = createSmtpTransport({ url: server.url, from: FROM });
  });
  afterAll(async () => {
    await transport.close();
    await server.close();
  });
  afterEach(() => server.failAllData(undefined));

  it('authenticates (percent-encoded credentials) and delivers HTML and text', async () => {
    expect(server.url).toContain(encodeURIComponent(credentials.pass));
    const { messageId } = await transport.send(mail);
    const received = await server.waitForMail((m) => m.messageId === messageId);
    expect(received.envelope).toEqual({ from: 'no-reply@gatehouse.test', to: ['ada@example.com'] });
    expect(received.subject).toBe(rendered.subject);
    expect(extractLinks(received.text)).toEqual([verifyUrl]);
    expect(received.html).toContain(`href="${verifyUrl}"`);
  });

  it('reports a 4xx as transient and a 5xx to the message as permanent', async () => {
    server.failAllData({ code: 451, message: 'Greylisted, try later' });
    const transient = await transport.send(mail).catch((error: unknown) => error);
    expect(transient).toBeInstanceOf(MailSendError);
    expect(transient).toMatchObject({ code: 'EMESSAGE', responseCode: 451, permanent: false });
    expect((transient as Error).message).toContain('451');

    server.failAllData({ code: 550, message: 'Mailbox unavailable' });
    const permanent = await transport.send(mail).catch((error: unknown) => error);
    expect(permanent).toMatchObject({ code: 'EMESSAGE', responseCode: 550, permanent: true });
  });

  it('never puts credentials in errors', async () => {
    const wrong = createSmtpTransport({
      url: server.url.replace(encodeURIComponent(credentials.pass), 'wr0ng-s3cret'),
      from: FROM,
    });
    try {
      const error = await wrong.send(mail).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MailSendError);
      expect(error).toMatchObject({ code: 'EAUTH', permanent: false });
      const everything = JSON.stringify(error, Object.getOwnPropertyNames(error));
      expect(everything).not.toContain('wr0ng-s3cret');
      expect(everything).not.toContain(Buffer.from('\0mailer\0wr0ng-s3cret').toString('base64'));
      expect(everything).not.toContain('AUTH PLAIN');
    } finally {
      await wrong.close();
    }
  });

  it('fails fast and transiently when the server is unreachable', async () => {
    const closed = await startTestSmtpServer();
    await closed.close();
    const unreachable = createSmtpTransport({ url: closed.url, from: FROM, connectionTimeoutMs: 2000 });
    try {
      const error = await unreachable.send(mail).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ permanent: false });
      expect((error as MailSendError).code).toMatch(/^E/);
    } finally {
      await unreachable.close();
    }
  });

  it('rejects URLs that are not smtp:// or smtps:// without echoing them', () => {
    expect(() => createSmtpTransport({ url: 'https://u:hunter2@mail.example.com', from: FROM })).toThrow(
      /^createSmtpTransport: url must be an smtp:\/\/ or smtps:\/\/ URL$/,
    );
  });
});
