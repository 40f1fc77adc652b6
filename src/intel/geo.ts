/**
 * ASN, AS organisation and country of an address, from MaxMind DB (.mmdb) files: GeoLite2-ASN,
 * GeoLite2-Country, GeoLite2-City, or DB-IP's lite files, which use the same field names.
 *
 * A database is input like any other: whoever built or swapped the file chooses every value in
 * it, and the values end up in terminals, reports and SQL. So a lookup keeps a value only when it
 * has the shape the field promises (an ASN is a 32-bit AS number, a country is two upper-case
 * letters) and drops it otherwise; text is bounded and its control characters escaped.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { open, type Reader, type Response } from "maxmind";
import { formatIpv4, parseIp, unmapIpv4 } from "../net/ip.js";
import { safeText } from "../untrusted/text.js";

/** What a lookup found; a field is absent when no database has a valid value for it. */
export interface GeoInfo {
  asn?: number;
  as_org?: string;
  country?: string;
}

/** Database files to open; any subset. */
export interface GeoDbPaths {
  asnDb?: string;
  countryDb?: string;
  cityDb?: string;
}

export type GeoDbRole = "asn" | "country" | "city";

/** One open database, as `intel show` prints it. */
export interface GeoDbInfo {
  role: GeoDbRole;
  file: string;
  databaseType: string;
  /** ISO 8601 UTC, from the metadata's build_epoch; absent when that is not a usable date. */
  buildDate?: string;
  ipVersion: 4 | 6;
  nodeCount: number;
}

/**
 * Decoded records the reader keeps per database (its LRU is keyed by the record's offset in the
 * data section). Scan results cluster in a few hosting networks, so the same records come up
 * again and again, and a hit skips decoding the record. A Country database has one record per
 * country and registered-country pair, so 2,000 holds nearly all of them. ASN records are small
 * (a number and a name), so 10,000 of the busiest ASes cost a few MB. City records carry names
 * in eight languages and there are hundreds of thousands of them, of which we read only the
 * country: a cache of the same size as the Country one, a few MB more.
 */
const CACHE_ENTRIES: Record<GeoDbRole, number> = { asn: 10_000, country: 2_000, city: 2_000 };

/** AS numbers are 32-bit (RFC 6793); 0 is reserved for "no AS" (RFC 7607). */
const MAX_ASN = 0xffff_ffff;
const AS_ORG_MAX_CHARS = 256;
const DB_TYPE_MAX_CHARS = 128;
const ISO_COUNTRY = /^[A-Z]{2}$/;
/** The zero bytes between the search tree and the data section. */
const DATA_SECTION_SEPARATOR_BYTES = 16;

interface GeoDb {
  role: GeoDbRole;
  file: string;
  reader: Reader<Response>;
  ipVersion: 4 | 6;
}

/** A parsed address in the text form the reader takes. */
interface LookupAddress {
  family: 4 | 6;
  text: string;
}

type DbRecord = Record<string, unknown>;

/** ASN, organisation and country lookups over whichever of the three databases were given. */
export class GeoIndex {
  private constructor(
    private readonly asnDb: GeoDb | undefined,
    /** Where a country comes from, in order: the Country database, then the City database. */
    private readonly countrySources: readonly GeoDb[],
    private readonly databases: readonly GeoDb[],
  ) {}

  /** Opens the given databases; rejects with an Error naming the file that is missing or unusable. */
  static async open(paths: GeoDbPaths): Promise<GeoIndex> {
    const [asn, country, city] = await Promise.all([
      paths.asnDb === undefined ? undefined : openDb("asn", paths.asnDb),
      paths.countryDb === undefined ? undefined : openDb("country", paths.countryDb),
      paths.cityDb === undefined ? undefined : openDb("city", paths.cityDb),
    ]);
    const countrySources = [country, city].filter((db) => db !== undefined);
    const databases = [asn, country, city].filter((db) => db !== undefined);
    return new GeoIndex(asn, countrySources, databases);
  }

  /** ASN, AS organisation and country of `ip`; `{}` for text that is not an IP address. */
  lookup(ip: string): GeoInfo {
    const address = lookupAddress(ip);
    if (address === undefined) return {};
    const info: GeoInfo = {};
    if (this.asnDb !== undefined) {
      const record = find(this.asnDb, address);
      if (record !== undefined) {
        const asn = asNumber(record["autonomous_system_number"]);
        if (asn !== undefined) info.asn = asn;
        const org = cleanText(record["autonomous_system_organization"], AS_ORG_MAX_CHARS);
        if (org !== undefined) info.as_org = org;
      }
    }
    for (const db of this.countrySources) {
      const record = find(db, address);
      const country = record === undefined ? undefined : countryOf(record);
      if (country !== undefined) {
        info.country = country;
        break;
      }
    }
    return info;
  }

  /** Each open database: type, build date, IP version and node count. */
  describe(): GeoDbInfo[] {
    return this.databases.map((db) => {
      const meta = db.reader.metadata;
      const built = meta.buildEpoch.getTime();
      const info: GeoDbInfo = {
        role: db.role,
        file: db.file,
        databaseType: cleanText(meta.databaseType, DB_TYPE_MAX_CHARS) ?? "unknown",
        ipVersion: db.ipVersion,
        nodeCount: meta.nodeCount,
      };
      if (!Number.isNaN(built)) info.buildDate = meta.buildEpoch.toISOString();
      return info;
    });
  }
}

async function openDb(role: GeoDbRole, file: string): Promise<GeoDb> {
  const fail = (reason: string, cause?: unknown) =>
    new Error(`GeoIP ${role} database ${file}: ${reason}`, { cause });
  let reader: Reader<Response>;
  let size: number;
  try {
    size = (await stat(file)).size;
    reader = await open<Response>(file, { cache: { max: CACHE_ENTRIES[role] } });
  } catch (e) {
    throw fail(openFailure(e), e);
  }
  // mmdb-lib checks only the record size; these are what the lookups rely on.
  const meta = reader.metadata;
  if (meta.binaryFormatMajorVersion !== 2) {
    throw fail("not a MaxMind DB file (unsupported binary format version)");
  }
  if (meta.ipVersion !== 4 && meta.ipVersion !== 6) {
    throw fail("not a MaxMind DB file (ip_version is neither 4 nor 6)");
  }
  if (!Number.isSafeInteger(meta.nodeCount) || meta.nodeCount < 1) {
    throw fail("not a MaxMind DB file (bad node_count)");
  }
  if (meta.searchTreeSize + DATA_SECTION_SEPARATOR_BYTES > size) {
    throw fail("truncated or corrupt (the search tree runs past the end of the file)");
  }
  return { role, file, reader, ipVersion: meta.ipVersion };
}

function openFailure(e: unknown): string {
  const code = e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
  if (code === "ENOENT") return "file not found";
  // One line: errors end up on a one-line CLI report (mmdb-lib's legacy-format message has three).
  const message = (e instanceof Error ? e.message : String(e)).split("\n", 1)[0] ?? "";
  // System errors (EACCES, EISDIR) already say what is wrong; anything else came from the parser.
  return code !== undefined ? message : `not a MaxMind DB file (${message})`;
}

/**
 * Parses strictly, like target lists (no zone ids, no inet_aton short forms), so the reader, whose
 * own parser accepts garbage, only sees real addresses. IPv4-mapped IPv6 (what a dual-stack socket
 * reports for an IPv4 peer) is looked up as the IPv4 address: not every database aliases
 * ::ffff:0:0/96 to its IPv4 data, and an IPv4-only one has no IPv6 tree at all.
 */
function lookupAddress(ip: string): LookupAddress | undefined {
  const parsed = parseIp(ip);
  if (parsed === undefined) return undefined;
  const plain = unmapIpv4(parsed);
  return plain === parsed
    ? { family: parsed.family, text: ip }
    : { family: 4, text: formatIpv4(Number(plain.value)) };
}

/** The record for `address` in `db`, when there is one and it is a map. */
function find(db: GeoDb, address: LookupAddress): DbRecord | undefined {
  // The reader would walk an IPv6 address 32 bits into an IPv4 tree and answer for whatever
  // IPv4 network those bits spell.
  if (address.family === 6 && db.ipVersion === 4) return undefined;
  let found: unknown;
  try {
    found = db.reader.get(address.text);
  } catch {
    // A damaged record (the metadata was checked at open, the records are decoded lazily) costs
    // this field for this address, not the scan that asked.
    return undefined;
  }
  return isRecord(found) ? found : undefined;
}

function isRecord(v: unknown): v is DbRecord {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A valid AS number; a database may store one as uint32 (number) or uint64 (bigint). */
function asNumber(v: unknown): number | undefined {
  const n = typeof v === "bigint" && v <= BigInt(MAX_ASN) ? Number(v) : v;
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= MAX_ASN ? n : undefined;
}

/** ISO 3166-1 alpha-2 code of the country, else of the country where the network is registered. */
function countryOf(record: DbRecord): string | undefined {
  return isoCode(record["country"]) ?? isoCode(record["registered_country"]);
}

function isoCode(v: unknown): string | undefined {
  if (!isRecord(v)) return undefined;
  const code = v["iso_code"];
  return typeof code === "string" && ISO_COUNTRY.test(code) ? code : undefined;
}

/**
 * Trimmed text of at most `maxChars` UTF-16 units, or undefined when there is none. Control
 * characters, bidi overrides and the like are escaped by the same rule as what scanned servers
 * say (safeText), so an organisation name cannot restyle or reorder the operator's terminal.
 */
function cleanText(v: unknown, maxChars: number): string | undefined {
  if (typeof v !== "string") return undefined;
  const text = safeText(v.trim(), maxChars).trimEnd();
  return text === "" ? undefined : text;
}

/**
 * Database files in `dir` by their published names: GeoLite2-{ASN,Country,City}.mmdb, else DB-IP's
 * dbip-{asn,country,city}-lite*.mmdb (dated names such as dbip-asn-lite-2024-05.mmdb; the newest
 * name wins). A directory that does not exist has none.
 */
export async function findGeoDbs(dir: string): Promise<GeoDbPaths> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw e;
  }
  const pick = (geoLite: string, dbipPrefix: string): string | undefined => {
    if (names.includes(geoLite)) return path.join(dir, geoLite);
    const dbip = names
      .filter((n) => n.startsWith(dbipPrefix) && n.endsWith(".mmdb"))
      .sort()
      .at(-1);
    return dbip === undefined ? undefined : path.join(dir, dbip);
  };
  const found: GeoDbPaths = {};
  const asnDb = pick("GeoLite2-ASN.mmdb", "dbip-asn-lite");
  const countryDb = pick("GeoLite2-Country.mmdb", "dbip-country-lite");
  const cityDb = pick("GeoLite2-City.mmdb", "dbip-city-lite");
  if (asnDb !== undefined) found.asnDb = asnDb;
  if (countryDb !== undefined) found.countryDb = countryDb;
  if (cityDb !== undefined) found.cityDb = cityDb;
  return found;
}
