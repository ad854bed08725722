import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from '@gatehouse/service';

/** Where endpoints may point. Production uses the defaults (both false). */
export interface WebhookUrlPolicy {
  /** Accept `http:` URLs (tests, local development). Default false: https only. */
  allowHttp?: boolean;
  /** Accept loopback, private, link-local and other non-public addresses (tests). Default false. */
  allowPrivateNetworks?: boolean;
}

export const MAX_WEBHOOK_URL_LENGTH = 2048;

export type UrlCheck = { ok: true; url: URL } | { ok: false; message: string };

/**
 * Static checks of an endpoint URL (at registration and again before each delivery): scheme, no credentials
 * (they would be sent to, and logged by, proxies), no fragment, and, unless private networks are allowed, no
 * private IP literal or `localhost` name. Names that *resolve* to private addresses are caught at delivery
 * time by {@link guardedLookup}, because DNS can change after registration.
 */
export function checkWebhookUrl(value: string, policy: WebhookUrlPolicy = {}): UrlCheck {
  if (value.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, message: 'The URL is too long' };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, message: 'The URL is not valid' };
  }
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:')) {
    return {
      ok: false,
      message: policy.allowHttp ? 'The URL must use http or https' : 'The URL must use https',
    };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, message: 'The URL must not contain credentials' };
  }
  if (url.hash !== '') return { ok: false, message: 'The URL must not contain a fragment' };
  if (url.hostname === '') return { ok: false, message: 'The URL needs a host' };
  if (!policy.allowPrivateNetworks) {
    // WHATWG parsing already normalised `http://2130706433/` and `http://0x7f.1/` to 127.0.0.1.
    const host = url.hostname
      .replace(/^\[(.*)\]$/, '$1')
      .replace(/\.$/, '')
      .toLowerCase();
    if (isIP(host) !== 0 && !isPublicAddress(host)) {
      return { ok: false, message: 'The URL must not point at a private or reserved address' };
    }
    if (host === 'localhost' || host.endsWith('.localhost')) {
      return { ok: false, message: 'The URL must not point at a private or reserved address' };
    }
  }
  return { ok: true, url };
}

/** Raised (as the socket error) when a webhook host resolves to an address the policy forbids. */
export class ForbiddenDestinationError extends Error {
  readonly code = 'EWEBHOOKDESTINATION';

  constructor(hostname: string) {
    super(`${hostname} resolves to a private or reserved address`);
    this.name = 'ForbiddenDestinationError';
  }
}

/**
 * A `lookup` for `http.request` that refuses a host when ANY of its addresses is not public. Checking inside
 * the connection's own lookup (rather than resolving first and connecting later) means the address checked is
 * the address connected to: no DNS-rebinding window between the check and the request.
 */
export function guardedLookup(base: LookupFunction = dnsLookup as LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = (Array.isArray(addresses) ? addresses : []) as LookupAddress[];
      if (list.length === 0 || list.some((entry) => !isPublicAddress(entry.address))) {
        return callback(new ForbiddenDestinationError(hostname), '', 0);
      }
      if (options.all) {
        // The typing of LookupFunction's callback only describes the single-address form.
        (callback as unknown as (err: null, all: LookupAddress[]) => void)(null, list);
        return;
      }
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
