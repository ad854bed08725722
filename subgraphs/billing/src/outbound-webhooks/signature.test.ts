import { createHmac } from 'node:crypto';
import { signWebhookPayload, verifyWebhookSignature } from './signature';

const secret = 'whsec_test-secret-0123456789abcdef';
const body = Buffer.from('{"id":"evt_1","type":"payment.succeeded","created":1900000000,"data":{}}');
const t = 1_900_000_000;
const at = (seconds: number) => () => new Date(seconds * 1000);

describe('webhook signatures', () => {
  it('signs "<t>.<body>" with HMAC-SHA256 in the documented header format', () => {
    const expected = createHmac('sha256', secret)
      .update(`${t}.${body.toString('utf8')}`)
      .digest('hex');
    expect(signWebhookPayload(secret, body, t)).toBe(`t=${t},v1=${expected}`);
  });

  it('accepts its own signature within the tolerance', () => {
    const header = signWebhookPayload(secret, body, t);
    expect(verifyWebhookSignature(secret, header, body, { now: at(t + 299) })).toEqual({
      valid: true,
      timestamp: t,
    });
    expect(verifyWebhookSignature(secret, header, body.toString('utf8'), { now: at(t - 299) }).valid).toBe(
      true,
    );
  });

  it.each([
    [
      'a changed body',
      secret,
      Buffer.from(body.toString('utf8').replace('evt_1', 'evt_2')),
      'signature-mismatch',
    ],
    ['another secret', 'whsec_other', body, 'signature-mismatch'],
  ])('refuses %s', (_name, key, payload, reason) => {
    const header = signWebhookPayload(secret, body, t);
    expect(verifyWebhookSignature(key, header, payload, { now: at(t) })).toEqual({ valid: false, reason });
  });

  it('refuses a timestamp outside the tolerance, and a re-signed timestamp without the secret', () => {
    const header = signWebhookPayload(secret, body, t);
    expect(verifyWebhookSignature(secret, header, body, { now: at(t + 301) })).toEqual({
      valid: false,
      reason: 'timestamp-outside-tolerance',
    });
    expect(
      verifyWebhookSignature(secret, header, body, { now: at(t + 600), toleranceSeconds: 600 }).valid,
    ).toBe(true);
    // Moving t forward to pass the age check breaks the MAC.
    const forged = header.replace(`t=${t}`, `t=${t + 1000}`);
    expect(verifyWebhookSignature(secret, forged, body, { now: at(t + 1000) }).valid).toBe(false);
  });

  it.each([
    undefined,
    '',
    'garbage',
    `t=${t}`,
    'v1=abc',
    `t=abc,v1=${'0'.repeat(64)}`,
    `t=${t},t=${t},v1=${'0'.repeat(64)}`,
  ])('refuses the malformed header %p', (header) => {
    expect(verifyWebhookSignature(secret, header, body, { now: at(t) })).toEqual({
      valid: false,
      reason: 'malformed-header',
    });
  });

  it('accepts a header listing several signatures when one matches, ignoring unknown schemes', () => {
    const good = signWebhookPayload(secret, body, t).split(',v1=')[1]!;
    const header = `t=${t},v0=legacy,v1=${'a'.repeat(64)},v1=${good}`;
    expect(verifyWebhookSignature(secret, header, body, { now: at(t) }).valid).toBe(true);
  });
});
