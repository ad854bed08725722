import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { isPublicAddress } from '@gatehouse/service';
import { ForbiddenDestinationError, checkWebhookUrl, guardedLookup } from './url-policy';

describe('webhook URL policy (SSRF)', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a00:1',
    '2002:a00:1::',
    'not-an-ip',
  ])('%s is not public', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111'])('%s is public', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it.each([
    ['http://hooks.example.com/x', 'The URL must use https'],
    ['ftp://hooks.example.com/x', 'The URL must use https'],
    ['https://user:pw@hooks.example.com/x', 'The URL must not contain credentials'],
    ['https://hooks.example.com/x#frag', 'The URL must not contain a fragment'],
    ['https://127.0.0.1/x', 'The URL must not point at a private or reserved address'],
    ['https://2130706433/x', 'The URL must not point at a private or reserved address'],
    ['https://0x7f.1/x', 'The URL must not point at a private or reserved address'],
    ['https://[::1]/x', 'The URL must not point at a private or reserved address'],
    ['https://[::ffff:10.0.0.1]/x', 'The URL must not point at a private or reserved address'],
    ['https://169.254.169.254/latest/meta-data', 'The URL must not point at a private or reserved address'],
    ['https://localhost/x', 'The URL must not point at a private or reserved address'],
    ['https://api.localhost./x', 'The URL must not point at a private or reserved address'],
    ['not a url', 'The URL is not valid'],
  ])('refuses %s in production', (url, message) => {
    expect(checkWebhookUrl(url)).toEqual({ ok: false, message });
  });

  it('accepts public https URLs, and http/private ones only when allowed', () => {
    expect(checkWebhookUrl('https://hooks.example.com:8443/gatehouse?x=1')).toMatchObject({ ok: true });
    expect(checkWebhookUrl('https://93.184.216.34/x')).toMatchObject({ ok: true });
    expect(
      checkWebhookUrl('http://127.0.0.1:3000/x', { allowHttp: true, allowPrivateNetworks: true }),
    ).toMatchObject({
      ok: true,
    });
    expect(checkWebhookUrl('http://127.0.0.1:3000/x', { allowHttp: true })).toMatchObject({ ok: false });
  });

  describe('guardedLookup', () => {
    const table: Record<string, LookupAddress[]> = {
      'public.example': [{ address: '93.184.216.34', family: 4 }],
      'mixed.example': [
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.5', family: 4 },
      ],
    };
    const fake: LookupFunction = (hostname, options, callback) => {
      const all = table[hostname] ?? [];
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, all);
      else callback(null, all[0]?.address ?? '', all[0]?.family ?? 4);
    };
    const resolve = (hostname: string, all: boolean) =>
      new Promise<unknown>((ok, fail) =>
        guardedLookup(fake)(hostname, { all }, (error, address) => (error ? fail(error) : ok(address))),
      );

    it('passes public addresses through, in both callback forms', async () => {
      await expect(resolve('public.example', false)).resolves.toBe('93.184.216.34');
      await expect(resolve('public.example', true)).resolves.toEqual([
        { address: '93.184.216.34', family: 4 },
      ]);
    });

    it('refuses a name when any of its addresses is private, or when it has none', async () => {
      await expect(resolve('mixed.example', false)).rejects.toBeInstanceOf(ForbiddenDestinationError);
      await expect(resolve('nothing.example', true)).rejects.toBeInstanceOf(ForbiddenDestinationError);
    });
  });
});
