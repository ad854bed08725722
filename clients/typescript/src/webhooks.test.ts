// The client's Web Crypto verifier against billing's own signer (node:crypto), so "verifies exactly what billing
// signs" is tested, not assumed.
import { signWebhookPayload } from '../../../subgraphs/billing/src/outbound-webhooks/signature.js';
import { verifyWebhookSignature } from './webhooks.js';

const SECRET = 'whsec_3q2-7wAbCdEfGhIjKlMnOpQrStUvWxYz012345';
const BODY = '{"id":"evt_1","type":"invoice.paid","data":{"amount":1999,"currency":"EUR"},"note":"Grüße"}';
const SIGNED_AT = 1_900_000_000;
const at = (seconds: number) => () => new Date(seconds * 1000);

it('accepts what billing signs: string body, bytes, and an ArrayBuffer', async () => {
  const header = signWebhookPayload(SECRET, BODY, SIGNED_AT);
  const bytes = new TextEncoder().encode(BODY);
  for (const body of [BODY, bytes, bytes.buffer.slice(0)]) {
    await expect(verifyWebhookSignature(body, header, SECRET, { now: at(SIGNED_AT + 10) })).resolves.toEqual({
      valid: true,
      timestamp: SIGNED_AT,
    });
  }
});

it('refuses a changed body, a wrong secret and a forged timestamp as signature-mismatch', async () => {
  const header = signWebhookPayload(SECRET, BODY, SIGNED_AT);
  const now = at(SIGNED_AT);
  await expect(verifyWebhookSignature(BODY.replace('1999', '1'), header, SECRET, { now })).resolves.toEqual({
    valid: false,
    reason: 'signature-mismatch',
  });
  await expect(verifyWebhookSignature(BODY, header, `${SECRET}x`, { now })).resolves.toMatchObject({
    reason: 'signature-mismatch',
  });
  const moved = header.replace(`t=${SIGNED_AT}`, `t=${SIGNED_AT + 1}`);
  await expect(verifyWebhookSignature(BODY, moved, SECRET, { now })).resolves.toMatchObject({
    reason: 'signature-mismatch',
  });
});

it('refuses a signature outside the tolerance window, either side, on the injected clock', async () => {
  const header = signWebhookPayload(SECRET, BODY, SIGNED_AT);
  await expect(
    verifyWebhookSignature(BODY, header, SECRET, { now: at(SIGNED_AT + 300) }),
  ).resolves.toMatchObject({
    valid: true,
  });
  await expect(verifyWebhookSignature(BODY, header, SECRET, { now: at(SIGNED_AT + 301) })).resolves.toEqual({
    valid: false,
    reason: 'timestamp-outside-tolerance',
  });
  await expect(
    verifyWebhookSignature(BODY, header, SECRET, { now: at(SIGNED_AT - 301) }),
  ).resolves.toMatchObject({
    reason: 'timestamp-outside-tolerance',
  });
  await expect(
    verifyWebhookSignature(BODY, header, SECRET, { now: at(SIGNED_AT + 3600), toleranceSeconds: 3600 }),
  ).resolves.toMatchObject({ valid: true });
});

it('accepts a header with several signatures when one matches, and ignores unknown schemes', async () => {
  const header = signWebhookPayload(SECRET, BODY, SIGNED_AT);
  const multi = `${header},v1=${'0'.repeat(64)},v2=future`;
  await expect(verifyWebhookSignature(BODY, multi, SECRET, { now: at(SIGNED_AT) })).resolves.toMatchObject({
    valid: true,
  });
});

it.each([
  [undefined],
  [null],
  [''],
  ['v1=abc'],
  [`t=${SIGNED_AT}`],
  [`t=abc,v1=${'a'.repeat(64)}`],
  [`t=1,t=2,v1=${'a'.repeat(64)}`],
  [`t=${SIGNED_AT},v1=${'A'.repeat(64)}`],
  ['x'.repeat(5000)],
])('refuses malformed header #%#', async (header) => {
  await expect(verifyWebhookSignature(BODY, header, SECRET, { now: at(SIGNED_AT) })).resolves.toEqual({
    valid: false,
    reason: 'malformed-header',
  });
});

it('refuses to run without a secret', async () => {
  await expect(verifyWebhookSignature(BODY, 't=1,v1=00', '')).rejects.toThrow(TypeError);
});
