import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * Who the client is: its address in one canonical text form, taken from the TCP peer or, behind proxies the
 * operator trusts (TRUST_PROXY), from `X-Forwarded-For`. What rate limits, the REST proxy, WebSocket limits and
 * the `X-Forwarded-For` sent to subgraphs all use, so they all agree on who a client is.
 */

/**
 * Which proxies in front of the gateway may say who the client is (TRUST_PROXY):
 * - `none`: nobody; the client is the TCP peer and any `X-Forwarded-For` is ignored (the default).
 * - `hops`: the `hops` nearest hops are proxies (the TCP peer is the first); the client is the address the
 *   farthest of them saw, read from the right of `X-Forwarded-For`.
 * - `ranges`: the TCP peer and every `X-Forwarded-For` entry, walked from the right, are proxies while they are
 *   inside one of `ranges` (canonical CIDRs); the first address outside them is the client.
 */
export type TrustProxy =
  | { readonly kind: 'none' }
  | { readonly kind: 'hops'; readonly hops: number }
  | { readonly kind: 'ranges'; readonly ranges: readonly string[] };

export const TRUST_NOBODY: TrustProxy = { kind: 'none' };

/** More hops than any real chain of proxies: a larger number is a typo, not a deployment. */
export const MAX_TRUSTED_HOPS = 32;

/** The request parts the client address is read from (an `IncomingMessage`). */
export type ClientAddressSource = Pick<IncomingMessage, 'headers'> & {
  readonly socket: { readonly remoteAddress?: string | undefined };
};

/** The canonical client address of a request, or undefined when the peer has none (a closed socket). */
export type ClientAddressResolver = (req: ClientAddressSource) => string | undefined;

/** The eight 16-bit groups of an IPv6 address (no zone), or undefined when it is not one. */
function ipv6Groups(text: string): number[] | undefined {
  if (!isIPv6(text)) return undefined;
  let head = text;
  const tail: number[] = [];
  // An embedded IPv4 tail (`::ffff:192.0.2.1`, `64:ff9b::198.51.100.7`) is two groups.
  const lastColon = head.lastIndexOf(':');
  const last = head.slice(lastColon + 1);
  if (last.includes('.')) {
    const octets = last.split('.').map(Number);
    tail.push(((octets[0] ?? 0) << 8) | (octets[1] ?? 0), ((octets[2] ?? 0) << 8) | (octets[3] ?? 0));
    // Keep the colon when it is part of `::` (`::1.2.3.4`), drop it otherwise (`ffff:1.2.3.4`).
    head = head.slice(0, head.endsWith('::' + last) ? lastColon + 1 : lastColon);
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const compressed = head.indexOf('::');
  let groups: number[];
  if (compressed === -1) {
    groups = [...parse(head), ...tail];
  } else {
    const left = parse(head.slice(0, compressed));
    const right = [...parse(head.slice(compressed + 2)), ...tail];
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  }
  return groups.length === 8 && groups.every((group) => group >= 0 && group <= 0xffff) ? groups : undefined;
}

/** RFC 5952 text of eight groups: lower case, no leading zeros, the longest run of 2+ zero groups as `::`. */
function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start += 1) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length += 1;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
    start += length;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Whether the groups are an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`). */
function isMappedIpv4(groups: readonly number[]): boolean {
  return groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
}

/**
 * The canonical text of an IP address, or undefined when `text` is not one: IPv4 as a dotted quad, an
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, how a dual-stack socket reports IPv4 peers) as that IPv4
 * address, any other IPv6 address in RFC 5952 form (`2001:DB8:0:0::1` → `2001:db8::1`), without a zone
 * (`fe80::1%eth0` → `fe80::1`). Equal addresses always have equal text, so they share rate-limit buckets.
 */
export function canonicalIp(text: string): string | undefined {
  const address = text.trim();
  if (isIPv4(address)) return address.split('.').map(Number).join('.');
  const zone = address.indexOf('%');
  const groups = ipv6Groups(zone === -1 ? address : address.slice(0, zone));
  if (!groups) return undefined;
  if (isMappedIpv4(groups)) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return formatIpv6(groups);
}

/**
 * Whom a canonical client address is rate limited as: an IPv4 address as itself, an IPv6 address by its /64
 * (`2001:db8:1:2::/64`). A /64 is the smallest block a subscriber is given (RFC 6177) and any host in it can
 * pick new addresses at will (privacy addresses, RFC 8981): keyed by full address, one client would get 2^64
 * buckets.
 */
export function rateLimitSubjectOf(ip: string): string {
  const groups = ipv6Groups(ip);
  if (!groups) return ip;
  return `${formatIpv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}

/**
 * One `X-Forwarded-For` entry as an address: some proxies add a port (`192.0.2.1:443`, `[2001:db8::1]:443`).
 * Undefined when the entry is not an address (`unknown`, garbage a client typed).
 */
function forwardedAddress(entry: string): string | undefined {
  const value = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed) return canonicalIp(bracketed[1]!);
  const ipv4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(value);
  return canonicalIp(ipv4WithPort ? ipv4WithPort[1]! : value);
}

/** `X-Forwarded-For` entries, left (farthest) to right (nearest); repeated headers arrive joined with ", ". */
function forwardedEntries(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  return (Array.isArray(header) ? header.join(',') : header).split(',');
}

/**
 * Parses TRUST_PROXY: empty for nobody, a hop count (`1`: one load balancer in front; `0` is nobody), or a
 * comma-separated list of addresses and CIDR ranges (`10.0.0.0/8, fd00::/8, 192.0.2.10`).
 * @throws Error with a message fit for a configuration report (it never repeats more than one entry).
 */
export function parseTrustProxy(value: string): TrustProxy {
  const text = value.trim();
  if (text === '') return TRUST_NOBODY;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > MAX_TRUSTED_HOPS) throw new Error(`a hop count must be 0-${MAX_TRUSTED_HOPS}`);
    return hops === 0 ? TRUST_NOBODY : { kind: 'hops', hops };
  }
  const ranges = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const [address = '', prefix, extra] = entry.split('/');
      const ip = canonicalIp(address);
      const bits = ip === undefined ? 0 : isIPv4(ip) ? 32 : 128;
      const length = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
      // An IPv4-mapped range would silently become a different IPv4 range: ask for the IPv4 form instead.
      const mappedRange = ip !== undefined && isIPv4(ip) && !isIPv4(address) && prefix !== undefined;
      if (ip === undefined || extra !== undefined || !(length <= bits) || mappedRange) {
        throw new Error(
          `"${entry}" is not a hop count, an IP address or a CIDR range (e.g. 1, or 10.0.0.0/8, fd00::/8)`,
        );
      }
      if (length === 0) throw new Error(`"${entry}" would trust every address: anyone could pick their own`);
      return `${ip}/${length}`;
    });
  return ranges.length === 0 ? TRUST_NOBODY : { kind: 'ranges', ranges };
}

/** The TCP peer's canonical address (no proxy trusted). */
export function peerAddressOf(req: ClientAddressSource): string | undefined {
  const remote = req.socket.remoteAddress;
  return remote === undefined ? undefined : canonicalIp(remote);
}

/**
 * The resolver for a TRUST_PROXY setting. A forwarded entry that is not an address ends the walk: the client is
 * then the last address a trusted hop vouched for. Anything left of the client is whatever the client sent, and
 * is never read.
 */
export function createClientAddressResolver(trust: TrustProxy = TRUST_NOBODY): ClientAddressResolver {
  if (trust.kind === 'none') return peerAddressOf;
  if (trust.kind === 'hops') {
    return (req) => {
      let client = peerAddressOf(req);
      if (client === undefined) return undefined;
      const entries = forwardedEntries(req.headers['x-forwarded-for']);
      // Hop 1 is the peer; each further trusted hop vouches for the address left of it.
      for (let i = 0; i < trust.hops && i < entries.length; i += 1) {
        const next = forwardedAddress(entries[entries.length - 1 - i]!);
        if (next === undefined) break;
        client = next;
      }
      return client;
    };
  }
  const trusted = new BlockList();
  for (const range of trust.ranges) {
    const [network = '', prefix = ''] = range.split('/');
    trusted.addSubnet(network, Number(prefix), isIPv4(network) ? 'ipv4' : 'ipv6');
  }
  const isTrusted = (ip: string) => trusted.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
  return (req) => {
    let client = peerAddressOf(req);
    if (client === undefined || !isTrusted(client)) return client;
    const entries = forwardedEntries(req.headers['x-forwarded-for']);
    for (let i = entries.length - 1; i >= 0; i -= 1) {
      const next = forwardedAddress(entries[i]!);
      if (next === undefined) break;
      client = next;
      if (!isTrusted(next)) break;
    }
    return client;
  };
}
