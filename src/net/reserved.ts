/**
 * Address space that is not the public internet: the IANA special-purpose registries, as a
 * scan's default blocklist (redscope never scans it unless told --allow-reserved) and as what
 * the honeypot's payload capture refuses to connect to.
 *
 * IPv4 is exactly zmap's conf/blocklist.conf: the IANA IPv4 Special-Purpose Address Registry
 * entries that are not globally reachable, plus multicast. IPv6 follows the IANA IPv6
 * Special-Purpose Address Registry the same way, with these choices:
 *  - Every prefix that embeds or translates IPv4 is blocked (::ffff:0:0/96 mapped, ::/96
 *    compatible, 64:ff9b::/96 and 64:ff9b:1::/48 NAT64, 2002::/16 6to4): connecting to one of
 *    them reaches an IPv4 host — possibly 127.0.0.1 or 10.0.0.1 through the local stack or NAT64
 *    gateway — so they would be a way around the IPv4 blocklist. Scan the IPv4 host directly.
 *    6to4 is also deprecated (RFC 7526) and its relays belong to third parties.
 *  - 2001::/23 (IETF protocol assignments) is blocked whole, as zmap does, although a few
 *    anycast services inside it are globally reachable; none of them is a Redis server.
 *  - Globally reachable AS112 / AMT service prefixes are not blocked (zmap does not block their
 *    IPv4 twins either).
 *  - fec0::/10 (site-local, deprecated by RFC 3879 but still routed internally at some sites) is
 *    added although it is no longer in the special-purpose registry.
 */
import { type Interval, mergeIntervals } from "./intervals.js";
import { cidrRange, type IpFamily, parseIp } from "./ip.js";

export interface ReservedRange {
  readonly cidr: string;
  readonly name: string;
  readonly rfc: string;
}

export const DEFAULT_BLOCKLIST: readonly ReservedRange[] = [
  { cidr: "0.0.0.0/8", name: "this network", rfc: "RFC 791" },
  { cidr: "10.0.0.0/8", name: "private-use", rfc: "RFC 1918" },
  { cidr: "100.64.0.0/10", name: "shared address space (carrier-grade NAT)", rfc: "RFC 6598" },
  { cidr: "127.0.0.0/8", name: "loopback", rfc: "RFC 1122" },
  { cidr: "169.254.0.0/16", name: "link-local", rfc: "RFC 3927" },
  { cidr: "172.16.0.0/12", name: "private-use", rfc: "RFC 1918" },
  { cidr: "192.0.0.0/24", name: "IETF protocol assignments", rfc: "RFC 6890" },
  { cidr: "192.0.2.0/24", name: "documentation (TEST-NET-1)", rfc: "RFC 5737" },
  { cidr: "192.88.99.0/24", name: "6to4 relay anycast (deprecated)", rfc: "RFC 7526" },
  { cidr: "192.168.0.0/16", name: "private-use", rfc: "RFC 1918" },
  { cidr: "198.18.0.0/15", name: "benchmarking", rfc: "RFC 2544" },
  { cidr: "198.51.100.0/24", name: "documentation (TEST-NET-2)", rfc: "RFC 5737" },
  { cidr: "203.0.113.0/24", name: "documentation (TEST-NET-3)", rfc: "RFC 5737" },
  { cidr: "224.0.0.0/4", name: "multicast", rfc: "RFC 5771" },
  { cidr: "240.0.0.0/4", name: "reserved for future use", rfc: "RFC 1112" },
  { cidr: "255.255.255.255/32", name: "limited broadcast", rfc: "RFC 919" },

  { cidr: "::/128", name: "unspecified address", rfc: "RFC 4291" },
  { cidr: "::1/128", name: "loopback", rfc: "RFC 4291" },
  { cidr: "::/96", name: "IPv4-compatible (deprecated)", rfc: "RFC 4291" },
  { cidr: "::ffff:0:0/96", name: "IPv4-mapped", rfc: "RFC 4291" },
  { cidr: "64:ff9b::/96", name: "IPv4/IPv6 translation (NAT64)", rfc: "RFC 6052" },
  { cidr: "64:ff9b:1::/48", name: "local-use IPv4/IPv6 translation", rfc: "RFC 8215" },
  { cidr: "100::/64", name: "discard-only", rfc: "RFC 6666" },
  { cidr: "100:0:0:1::/64", name: "dummy IPv6 prefix", rfc: "RFC 9780" },
  { cidr: "2001::/23", name: "IETF protocol assignments", rfc: "RFC 2928" },
  { cidr: "2001::/32", name: "Teredo", rfc: "RFC 4380" },
  { cidr: "2001:2::/48", name: "benchmarking", rfc: "RFC 5180" },
  { cidr: "2001:db8::/32", name: "documentation", rfc: "RFC 3849" },
  { cidr: "2002::/16", name: "6to4 (deprecated relays)", rfc: "RFC 3056" },
  { cidr: "3fff::/20", name: "documentation", rfc: "RFC 9637" },
  { cidr: "5f00::/16", name: "segment routing (SRv6) SIDs", rfc: "RFC 9602" },
  { cidr: "fc00::/7", name: "unique-local", rfc: "RFC 4193" },
  { cidr: "fe80::/10", name: "link-local unicast", rfc: "RFC 4291" },
  { cidr: "fec0::/10", name: "site-local (deprecated)", rfc: "RFC 3879" },
  { cidr: "ff00::/8", name: "multicast", rfc: "RFC 4291" },
];

export interface ParsedReservedRange extends ReservedRange {
  readonly family: IpFamily;
  readonly start: bigint;
  readonly end: bigint;
}

function parseEntry(entry: ReservedRange): ParsedReservedRange {
  const [address, len] = entry.cidr.split("/");
  const ip = parseIp(address ?? "");
  if (ip === undefined || len === undefined) throw new Error(`bad blocklist entry ${entry.cidr}`);
  return { ...entry, family: ip.family, ...cidrRange(ip.family, ip.value, Number(len)) };
}

let parsed: ParsedReservedRange[] | undefined;
const merged = new Map<IpFamily, Interval[]>();

/** The default blocklist with numeric bounds. */
export function reservedRanges(): readonly ParsedReservedRange[] {
  parsed ??= DEFAULT_BLOCKLIST.map(parseEntry);
  return parsed;
}

/** The union of the default blocklist for one family, as merged intervals. */
export function reservedIntervals(family: IpFamily): readonly Interval[] {
  let list = merged.get(family);
  if (list === undefined) {
    list = mergeIntervals(reservedRanges().filter((r) => r.family === family));
    merged.set(family, list);
  }
  return list;
}

/** The reserved entry containing one address, if any (smallest first). */
export function reservedEntryFor(family: IpFamily, value: bigint): ParsedReservedRange | undefined {
  let best: ParsedReservedRange | undefined;
  for (const r of reservedRanges()) {
    if (r.family === family && r.start <= value && value <= r.end) {
      if (best === undefined || r.end - r.start < best.end - best.start) best = r;
    }
  }
  return best;
}
