import path from 'node:path';
import { openGeoLocator, type GeoLocator } from './geo';

describe('openGeoLocator (DB-IP city lite)', () => {
  let geo: GeoLocator;

  beforeAll(async () => {
    // Opened once for the file: the databases are large.
    geo = await openGeoLocator();
  });

  it('locates public IPv4 addresses, also when written IPv4-mapped', () => {
    expect(geo.lookup('8.8.8.8')).toEqual({ country: 'US', city: expect.any(String) });
    expect(geo.lookup('::ffff:8.8.8.8')?.country).toBe('US');
    expect(geo.lookup(' 8.8.8.8 ')?.country).toBe('US');
  });

  it('locates public IPv6 addresses', () => {
    expect(geo.lookup('2001:4860:4860::8888')?.country).toMatch(/^[A-Z]{2}$/);
  });

  it.each([
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '127.0.0.1',
    '100.64.0.1',
    '169.254.1.1',
    '::1',
    'fe80::1',
    'fd00::1',
    '::ffff:10.0.0.1',
  ])('returns null for the non-public address %s', (ip) => {
    expect(geo.lookup(ip)).toBeNull();
  });

  it.each(['', 'not-an-ip', '999.1.1.1', '8.8.8.8; DROP', 'x'.repeat(10_000)])(
    'returns null for invalid input %j',
    (ip) => {
      expect(geo.lookup(ip)).toBeNull();
    },
  );

  it('returns null for null and undefined', () => {
    expect(geo.lookup(null)).toBeNull();
    expect(geo.lookup(undefined)).toBeNull();
  });
});

describe('openGeoLocator without its database', () => {
  it('starts, logs once per missing file, and locates nothing', async () => {
    const warnings: object[] = [];
    const missing = path.join(__dirname, 'no-such-database.mmdb');
    const geo = await openGeoLocator({
      ipv4DatabasePath: missing,
      ipv6DatabasePath: missing,
      logger: { warn: (details) => warnings.push(details) },
    });
    expect(warnings).toHaveLength(2);
    expect(geo.lookup('8.8.8.8')).toBeNull();
    expect(geo.lookup('2001:4860:4860::8888')).toBeNull();
    expect(warnings).toHaveLength(2);
  });
});
