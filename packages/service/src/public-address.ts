import { BlockList, isIP } from 'node:net';

/**
 * Address ranges that are not public unicast: the IANA special-purpose registries (RFC 6890 and its updates) plus
 * multicast and the reserved blocks. Used both to refuse outbound requests to them (webhooks: SSRF, with cloud
 * metadata at 169.254.169.254) and to skip geolocating them (they say nothing about where a person is).
 * IPv6 forms that embed an IPv4 address (mapped, IPv4-compatible, NAT64, 6to4, Teredo) are refused as a whole,
 * since they could otherwise smuggle a private IPv4 destination past the IPv4 list; callers that want the
 * embedded address (geolocation of a dual-stack socket's `::ffff:a.b.c.d`) unwrap it first.
 */
export const NON_PUBLIC_IPV4_RANGES: readonly (readonly [network: string, prefix: number])[] = [
  ['0.0.0.0', 8], // "this network" (RFC 791)
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // shared address space, CGNAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (RFC 3927), cloud metadata
  ['172.16.0.0', 12], // private (RFC 1918)
  ['192.0.0.0', 24], // IETF protocol assignments (RFC 6890), DS-Lite
  ['192.0.2.0', 24], // documentation TEST-NET-1 (RFC 5737)
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated, RFC 7526)
  ['192.168.0.0', 16], // private (RFC 1918)
  ['198.18.0.0', 15], // benchmarking (RFC 2544)
  ['198.51.100.0', 24], // documentation TEST-NET-2
  ['203.0.113.0', 24], // documentation TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved (RFC 1112), including the limited broadcast 255.255.255.255
];

export const NON_PUBLIC_IPV6_RANGES: readonly (readonly [network: string, prefix: number])[] = [
  ['::', 96], // unspecified ::, loopback ::1, deprecated IPv4-compatible (RFC 4291)
  ['::ffff:0:0', 96], // IPv4-mapped
  ['64:ff9b::', 96], // NAT64 well-known prefix (RFC 6052): embeds IPv4
  ['64:ff9b:1::', 48], // NAT64 local use (RFC 8215)
  ['100::', 64], // discard-only (RFC 6666)
  ['2001::', 23], // IETF protocol assignments: Teredo, benchmarking, ORCHID (RFC 2928)
  ['2001:db8::', 32], // documentation (RFC 3849)
  ['2002::', 16], // 6to4: embeds IPv4 (RFC 3056)
  ['3fff::', 20], // documentation (RFC 9637)
  ['5f00::', 16], // SRv6 SIDs (RFC 9602)
  ['fc00::', 7], // unique local (RFC 4193)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, RFC 3879)
  ['ff00::', 8], // multicast
];

// Separate lists: Node's BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules, so `::ffff:0:0/96` in a
// shared list would block every IPv4 address.
const NON_PUBLIC_V4 = new BlockList();
for (const [network, prefix] of NON_PUBLIC_IPV4_RANGES) NON_PUBLIC_V4.addSubnet(network, prefix, 'ipv4');
const NON_PUBLIC_V6 = new BlockList();
for (const [network, prefix] of NON_PUBLIC_IPV6_RANGES) NON_PUBLIC_V6.addSubnet(network, prefix, 'ipv6');

/** Whether `address` (an IP literal) is a public unicast address. Anything that is not an IP literal is not. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return family === 4 ? !NON_PUBLIC_V4.check(address, 'ipv4') : !NON_PUBLIC_V6.check(address, 'ipv6');
}
