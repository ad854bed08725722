import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode } from '@gatehouse/errors';
import { CAPTCHA_VERIFY_URLS, CaptchaUnavailableError, createCaptchaVerifier } from './captcha';

/**
 * A local siteverify endpoint speaking the hCaptcha/reCAPTCHA/Turnstile protocol: form-encoded POST in, JSON out.
 * Token `good` passes, `good-low` passes with a low reCAPTCHA v3 score, `hang` never answers, `oops` gets a 500.
 */
interface Received {
  path: string;
  contentType?: string;
  form: Record<string, string>;
}
let server: http.Server;
let baseUrl: string;
const received: Received[] = [];
const hanging = new Set<http.ServerResponse>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(raw));
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'], form });
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || form.secret !== 'test-secret') return reply(200, { success: false });
      switch (form.response) {
        case 'good':
          return reply(200, { success: true, score: 0.9, hostname: 'localhost' });
        case 'good-low':
          return reply(200, { success: true, score: 0.1 });
        case 'hang':
          return void hanging.add(res);
        case 'oops':
          return reply(500, { error: 'internal' });
        case 'garbage':
          return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
        default:
          return reply(200, { success: false, 'error-codes': ['invalid-input-response'] });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  received.length = 0;
  for (const res of hanging) res.destroy();
  hanging.clear();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const verifier = (provider: 'hcaptcha' | 'recaptcha' | 'turnstile', extra = {}) =>
  createCaptchaVerifier({ provider, secret: 'test-secret', verifyUrl: `${baseUrl}/${provider}`, ...extra });

describe.each(['hcaptcha', 'recaptcha', 'turnstile'] as const)('%s verifier', (provider) => {
  it('posts secret, response and remoteip form-encoded and accepts a good token', async () => {
    await expect(verifier(provider).verify('good', '203.0.113.7')).resolves.toBe(true);
    expect(received).toEqual([
      {
        path: `/${provider}`,
        contentType: 'application/x-www-form-urlencoded',
        form: { secret: 'test-secret', response: 'good', remoteip: '203.0.113.7' },
      },
    ]);
  });

  it('returns false for a rejected token and omits remoteip when unknown', async () => {
    await expect(verifier(provider).verify('forged')).resolves.toBe(false);
    expect(received[0]?.form).toEqual({ secret: 'test-secret', response: 'forged' });
  });
});

describe('createCaptchaVerifier', () => {
  it("accepts everything without a call for provider 'none'", async () => {
    await expect(createCaptchaVerifier({ provider: 'none' }).verify('')).resolves.toBe(true);
    expect(received).toHaveLength(0);
  });

  it('refuses empty and absurdly long tokens without calling the provider', async () => {
    await expect(verifier('hcaptcha').verify('')).resolves.toBe(false);
    await expect(verifier('hcaptcha').verify('x'.repeat(5000))).resolves.toBe(false);
    expect(received).toHaveLength(0);
  });

  it('checks the reCAPTCHA v3 score only when minScore is set', async () => {
    await expect(verifier('recaptcha', { minScore: 0.5 }).verify('good')).resolves.toBe(true);
    await expect(verifier('recaptcha', { minScore: 0.5 }).verify('good-low')).resolves.toBe(false);
    await expect(verifier('recaptcha').verify('good-low')).resolves.toBe(true);
  });

  it('fails closed with CAPTCHA_UNAVAILABLE on a timeout', async () => {
    const started = Date.now();
    const error = await verifier('turnstile', { timeoutMs: 300 })
      .verify('hang')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaptchaUnavailableError);
    expect(error).toMatchObject({
      code: ErrorCode.SERVICE_UNAVAILABLE,
      details: { reason: 'CAPTCHA_UNAVAILABLE' },
    });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('fails closed on a non-200 answer, a non-JSON answer and a connection error', async () => {
    await expect(verifier('hcaptcha').verify('oops')).rejects.toBeInstanceOf(CaptchaUnavailableError);
    await expect(verifier('hcaptcha').verify('garbage')).rejects.toBeInstanceOf(CaptchaUnavailableError);
    const closedPort = createCaptchaVerifier({
      provider: 'hcaptcha',
      secret: 'test-secret',
      verifyUrl: 'http://127.0.0.1:1/siteverify',
    });
    await expect(closedPort.verify('good')).rejects.toBeInstanceOf(CaptchaUnavailableError);
  });

  it('needs a secret for a real provider and targets the documented endpoints by default', () => {
    expect(() => createCaptchaVerifier({ provider: 'turnstile' })).toThrow(/needs a secret/);
    expect(CAPTCHA_VERIFY_URLS).toEqual({
      hcaptcha: 'https://api.hcaptcha.com/siteverify',
      recaptcha: 'https://www.google.com/recaptcha/api/siteverify',
      turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
    });
  });
});
