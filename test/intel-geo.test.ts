/**
 * intel/geo: ASN, AS organisation and country from MaxMind DB files. The databases are built
 * here by the test writer (helpers/mmdb.ts), read back by the real reader (maxmind / mmdb-lib):
 * an ASN database (24-bit records, IPv4-mapped alias), a Country database (28-bit records, no
 * alias, padded so that records point past 2^24 and need the 28-bit nibbles) and an IPv4-only
 * City database (32-bit records), with nested networks and hostile values.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Reader, type Response } from "maxmind";
import { findGeoDbs, GeoIndex } from "../src/intel/geo.js";
import { isUnsafe } from "../src/untrusted/text.js";
import { buildMmdb, type MmdbNetwork, type MmdbValue, uint16, uint64 } from "./helpers/mmdb.js";

const BUILD_EPOCH = Date.UTC(2024, 4, 7, 12) / 1000;
const BUILD_DATE = "2024-05-07T12:00:00.000Z";

const HOSTILE_ORG = "\x1b[31mEvil\x1b[0m Corp\r\n\u202egnp.exe " + "A".repeat(10_240);

const asnOf = (asn: MmdbValue, org?: MmdbValue): MmdbNetwork["data"] =>
  org === undefined
    ? { autonomous_system_number: asn }
    : { autonomous_system_number: asn, autonomous_system_organization: org };

const ASN_NETWORKS: MmdbNetwork[] = [
  // The more specific network comes first on purpose: the writer must not let order matter.
  { network: "1.2.3.0/24", data: asnOf(13335, "  Cloudflare, Inc.\t") },
  { network: "1.0.0.0/8", data: asnOf(64500, "Example Transit") },
  { network: "2001:db8::/32", data: asnOf(64501, "Example v6 Net") },
  { network: "2001:db8:beef::/48", data: asnOf(64502, "Example v6 Customer") },
  { network: "198.51.100.0/24", data: asnOf(4_200_000_000, HOSTILE_ORG) },
  { network: "198.51.101.0/24", data: asnOf(13335.5, 42) },
  { network: "198.51.102.0/24", data: asnOf("13335", "") },
  { network: "198.51.103.0/24", data: asnOf(2n ** 40n) },
  { network: "198.51.104.0/24", data: asnOf(0, " \t ") },
  { network: "198.51.105.0/24", data: asnOf(64496n, "😀".repeat(300)) },
  { network: "198.51.106.0/24", data: asnOf(-1) },
];

const COUNTRY_NETWORKS: MmdbNetwork[] = [
  // 18 MB stored before every IPv4 record (shorter prefixes are stored first; this one is
  // ::240.0.0.0/100 in the tree), so the records of the networks below sit beyond 2^24.
  { network: "240.0.0.0/4", data: { padding: ["x".repeat(9_000_000), "y".repeat(9_000_000)] } },
  {
    network: "1.0.0.0/8",
    data: { country: { iso_code: "AU", names: { en: "Australia" } }, registered_country: {} },
  },
  { network: "1.2.0.0/16", data: { registered_country: { iso_code: "JP" } } },
  { network: "2001:db8::/32", data: { country: { iso_code: "DE", is_in_european_union: true } } },
  {
    network: "198.51.100.0/24",
    data: { country: { iso_code: "us" }, registered_country: { iso_code: "USA" } },
  },
  { network: "198.51.101.0/24", data: { country: { iso_code: "FR\n" } } },
  {
    network: "198.51.102.0/24",
    data: { country: { iso_code: "zz" }, registered_country: { iso_code: "NL" } },
  },
  { network: "198.51.103.0/24", data: { country: "US" } },
];

const CITY_NETWORKS: MmdbNetwork[] = [
  {
    network: "0.0.0.0/0",
    data: { city: { names: { en: "Auckland" } }, country: { iso_code: "NZ" } },
  },
  { network: "1.0.0.0/8", data: { country: { iso_code: "CN" } } },
];

const INVALID_IPS = [
  "",
  "1.2.3",
  "01.2.3.4",
  "1.2.3.4/24",
  "256.1.1.1",
  " 1.2.3.4",
  "1.2.3.4\n",
  "16909060",
  "fe80::1%eth0",
  "::ffff:1.2.3.4.5",
  "2001:db8::g",
  "1::2::3",
  "localhost",
];

let dir: string;
const file = (name: string) => path.join(dir, name);
const bufs: Record<"asn" | "country" | "city", Buffer> = {
  asn: Buffer.alloc(0),
  country: Buffer.alloc(0),
  city: Buffer.alloc(0),
};
let geo: GeoIndex;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "redscope-geo-"));
  bufs.asn = buildMmdb(ASN_NETWORKS, {
    databaseType: "GeoLite2-ASN",
    recordSize: 24,
    ipv4MappedAlias: true,
    buildEpoch: BUILD_EPOCH,
  });
  bufs.country = buildMmdb(COUNTRY_NETWORKS, {
    databaseType: "GeoLite2-Country",
    recordSize: 28,
    buildEpoch: BUILD_EPOCH,
  });
  bufs.city = buildMmdb(CITY_NETWORKS, {
    databaseType: "\x1b]0;pwned\x07GeoLite2-City",
    ipVersion: 4,
    recordSize: 32,
    buildEpoch: BUILD_EPOCH,
  });
  await writeFile(file("GeoLite2-ASN.mmdb"), bufs.asn);
  await writeFile(file("GeoLite2-Country.mmdb"), bufs.country);
  await writeFile(file("GeoLite2-City.mmdb"), bufs.city);
  geo = await GeoIndex.open({
    asnDb: file("GeoLite2-ASN.mmdb"),
    countryDb: file("GeoLite2-Country.mmdb"),
  });
});

after(() => rm(dir, { recursive: true, force: true }));

describe("MaxMind DB test writer, read back by the real reader", () => {
  test("every value type, sizes across the 29 / 285 / 65,821 length forms, metadata", () => {
    const value = {
      s: "é",
      s29: "a".repeat(29),
      s285: "b".repeat(285),
      s65821: "c".repeat(65_821),
      u16: uint16(65_535),
      u32: 0xffff_ffff,
      u64: uint64(2n ** 64n - 1n),
      zero: 0,
      d: -1.5,
      t: true,
      f: false,
      arr: [1, "two", [3n], { four: 4 }],
      empty: {},
    };
    for (const recordSize of [24, 28, 32] as const) {
      const buf = buildMmdb([{ network: "10.0.0.0/8", data: value }], {
        databaseType: "Test-Types",
        recordSize,
        buildEpoch: BUILD_EPOCH,
        description: "types",
      });
      const reader = new Reader<Response>(buf);
      assert.deepEqual(reader.get("10.1.2.3"), {
        ...value,
        u16: 65_535,
        u64: 2n ** 64n - 1n,
      });
      assert.equal(reader.get("11.0.0.0"), null);
      const m = reader.metadata;
      assert.deepEqual(
        [m.recordSize, m.ipVersion, m.databaseType, m.binaryFormatMajorVersion],
        [recordSize, 6, "Test-Types", 2],
      );
      assert.deepEqual(
        [m.binaryFormatMinorVersion, m.languages, m.description],
        [0, ["en"], { en: "types" }],
      );
      assert.equal(m.buildEpoch.toISOString(), BUILD_DATE);
    }
  });

  test("28-bit records beyond 2^24 and the IPv4-mapped alias", () => {
    assert.ok(bufs.country.length > 2 ** 24, "records after the padding need the high nibble");
    const country = new Reader<Response>(bufs.country);
    assert.equal(country.metadata.recordSize, 28);
    assert.deepEqual(country.get("1.1.1.1"), COUNTRY_NETWORKS[1]!.data);
    assert.deepEqual(country.get("198.51.102.1"), COUNTRY_NETWORKS[6]!.data);
    // Without the alias the tree has nothing at ::ffff:0:0/96 (GeoIndex maps it to IPv4 itself).
    assert.equal(country.get("::ffff:1.1.1.1"), null);
    const asn = new Reader<Response>(bufs.asn);
    assert.deepEqual(asn.get("::ffff:1.2.3.4"), asn.get("1.2.3.4"));
  });
});

describe("GeoIndex.lookup", () => {
  test("IPv4: ASN, organisation and country", () => {
    assert.deepEqual(geo.lookup("1.1.1.1"), {
      asn: 64500,
      as_org: "Example Transit",
      country: "AU",
    });
  });

  test("a more specific network inside a less specific one", () => {
    const cf = { asn: 13335, as_org: "Cloudflare, Inc.", country: "JP" };
    assert.deepEqual(geo.lookup("1.2.3.0"), cf);
    assert.deepEqual(geo.lookup("1.2.3.255"), cf);
    // 1.2.0.0/16 has no country, only a registered country: the fallback.
    assert.deepEqual(geo.lookup("1.2.4.0"), {
      asn: 64500,
      as_org: "Example Transit",
      country: "JP",
    });
    assert.deepEqual(geo.lookup("1.3.0.0"), {
      asn: 64500,
      as_org: "Example Transit",
      country: "AU",
    });
    assert.equal(geo.lookup("1.255.255.255").asn, 64500);
  });

  test("IPv6, in any text form", () => {
    const net = { asn: 64501, as_org: "Example v6 Net", country: "DE" };
    const customer = { asn: 64502, as_org: "Example v6 Customer", country: "DE" };
    assert.deepEqual(geo.lookup("2001:db8::1"), net);
    assert.deepEqual(geo.lookup("2001:db8:beee:ffff::"), net);
    assert.deepEqual(geo.lookup("2001:db8:beef::1"), customer);
    assert.deepEqual(geo.lookup("2001:DB8:BEEF:0:0:0:0:1"), customer);
    assert.deepEqual(geo.lookup("2001:db8:beef:ffff:ffff:ffff:ffff:ffff"), customer);
  });

  test("IPv4-mapped IPv6 is the IPv4 address, with or without the database's alias", () => {
    const expected = geo.lookup("1.2.3.4");
    assert.equal(expected.country, "JP");
    for (const mapped of ["::ffff:1.2.3.4", "::FFFF:102:304", "0:0:0:0:0:ffff:1.2.3.4"]) {
      assert.deepEqual(geo.lookup(mapped), expected, mapped);
    }
  });

  test("an address in no network", () => {
    for (const ip of ["9.9.9.9", "0.0.0.0", "223.255.255.255", "2001:db9::1", "::", "::1"]) {
      assert.deepEqual(geo.lookup(ip), {}, ip);
    }
  });

  test("hostile values: escaped and bounded organisation, invalid ASN and country dropped", () => {
    const hostile = geo.lookup("198.51.100.7");
    assert.equal(hostile.asn, 4_200_000_000);
    assert.equal(hostile.country, undefined, "'us' and 'USA' are not ISO alpha-2 codes");
    const org = hostile.as_org ?? "";
    assert.ok(org.startsWith("\\x1b[31mEvil\\x1b[0m Corp\\x0d\\x0a\\u202egnp.exe AAA"), org);
    assert.ok(org.length <= 256, `${org.length} chars`);
    for (const ch of org) assert.ok(!isUnsafe(ch.codePointAt(0)!), `raw U+${ch.codePointAt(0)}`);

    assert.deepEqual(geo.lookup("198.51.101.7"), {}, "13335.5, org 42, 'FR\\n'");
    assert.deepEqual(geo.lookup("198.51.102.7"), { country: "NL" }, "'13335', 'zz' → registered");
    assert.deepEqual(geo.lookup("198.51.103.7"), {}, "2^40 as uint64, country not a map");
    assert.deepEqual(geo.lookup("198.51.104.7"), {}, "AS0, whitespace organisation");
    assert.deepEqual(geo.lookup("198.51.106.7"), {}, "negative ASN (a double)");

    const emoji = geo.lookup("198.51.105.7");
    assert.equal(emoji.asn, 64496, "a small uint64 ASN is kept");
    const cut = emoji.as_org ?? "";
    assert.ok(cut.length <= 256 && cut.length >= 254, `${cut.length} units`);
    assert.equal(Buffer.from(cut).toString(), cut, "no surrogate pair cut in half");
  });

  test("invalid IP strings give {} and never throw", () => {
    for (const ip of INVALID_IPS) assert.deepEqual(geo.lookup(ip), {}, JSON.stringify(ip));
  });

  test("a damaged record costs that database's fields, not the lookup", async () => {
    const damaged = Buffer.from(bufs.asn);
    // Extended type byte 0 → type 7, which the spec forbids: the reader throws on this record.
    const start = new Reader<Response>(bufs.asn).metadata.searchTreeSize + 16;
    damaged.fill(0, start, start + 2);
    const damagedFile = file("damaged-asn.mmdb");
    await writeFile(damagedFile, damaged);
    // The first record stored is the first network by prefix length in the tree: 2001:db8::/32.
    assert.throws(() => new Reader<Response>(damaged).get("2001:db8::1"), /Invalid Extended Type/);
    const index = await GeoIndex.open({
      asnDb: damagedFile,
      countryDb: file("GeoLite2-Country.mmdb"),
    });
    assert.deepEqual(index.lookup("2001:db8::1"), { country: "DE" });
    assert.deepEqual(index.lookup("1.1.1.1"), geo.lookup("1.1.1.1"), "other records still read");
  });

  test("an IPv4-only database answers IPv4 and mapped addresses, never IPv6", async () => {
    const city = await GeoIndex.open({ cityDb: file("GeoLite2-City.mmdb") });
    assert.deepEqual(city.lookup("9.9.9.9"), { country: "NZ" });
    assert.deepEqual(city.lookup("1.2.3.4"), { country: "CN" });
    assert.deepEqual(city.lookup("::ffff:1.2.3.4"), { country: "CN" });
    // The reader alone would walk the first 32 bits of this address and answer 0.0.0.0/0's NZ.
    assert.notEqual(new Reader<Response>(bufs.city).get("2001:db8::1"), null);
    assert.deepEqual(city.lookup("2001:db8::1"), {});
  });

  test("the Country database answers before the City database", async () => {
    const all = await GeoIndex.open({
      countryDb: file("GeoLite2-Country.mmdb"),
      cityDb: file("GeoLite2-City.mmdb"),
    });
    assert.equal(all.lookup("1.1.1.1").country, "AU");
    assert.equal(all.lookup("9.9.9.9").country, "NZ", "not in the Country database");
    assert.equal(all.lookup("198.51.100.1").country, "NZ", "invalid in the Country database");
  });
});

describe("GeoIndex.open and describe", () => {
  test("describe: type, build date, IP version, node count of each database", async () => {
    const all = await GeoIndex.open(await findGeoDbs(dir));
    const nodes = (buf: Buffer) => new Reader<Response>(buf).metadata.nodeCount;
    assert.deepEqual(all.describe(), [
      {
        role: "asn",
        file: file("GeoLite2-ASN.mmdb"),
        databaseType: "GeoLite2-ASN",
        buildDate: BUILD_DATE,
        ipVersion: 6,
        nodeCount: nodes(bufs.asn),
      },
      {
        role: "country",
        file: file("GeoLite2-Country.mmdb"),
        databaseType: "GeoLite2-Country",
        buildDate: BUILD_DATE,
        ipVersion: 6,
        nodeCount: nodes(bufs.country),
      },
      {
        role: "city",
        file: file("GeoLite2-City.mmdb"),
        databaseType: "\\x1b]0;pwned\\x07GeoLite2-City",
        buildDate: BUILD_DATE,
        ipVersion: 4,
        nodeCount: nodes(bufs.city),
      },
    ]);
    assert.deepEqual((await GeoIndex.open({})).describe(), []);
  });

  test("a missing or corrupt file is a one-line Error naming the file", async () => {
    const tail = bufs.asn.subarray(bufs.asn.lastIndexOf(Buffer.from("MaxMind.com")) - 3);
    const cases: [name: string, bytes: Buffer | undefined, reason: RegExp][] = [
      ["missing.mmdb", undefined, /file not found$/],
      ["empty.mmdb", Buffer.alloc(0), /not a MaxMind DB file/],
      ["text.mmdb", Buffer.from("this is not a database\n".repeat(100)), /not a MaxMind DB file/],
      ["no-metadata.mmdb", bufs.asn.subarray(0, bufs.asn.length - tail.length), /not a MaxMind/],
      ["gzip.mmdb", Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), /gzip/],
      ["headless.mmdb", Buffer.concat([Buffer.alloc(10), tail]), /truncated or corrupt/],
    ];
    for (const [name, bytes, reason] of cases) {
      if (bytes) await writeFile(file(name), bytes);
      await assert.rejects(GeoIndex.open({ countryDb: file(name) }), (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.ok(e.message.startsWith(`GeoIP country database ${file(name)}: `), e.message);
        assert.match(e.message, reason);
        assert.ok(!e.message.includes("\n"), e.message);
        return true;
      });
    }
    await assert.rejects(GeoIndex.open({ asnDb: dir }), new RegExp(`GeoIP asn database ${dir}: `));
  });
});

describe("findGeoDbs", () => {
  test("GeoLite2 names, else the newest DB-IP lite file", async () => {
    const sub = path.join(dir, "found");
    await mkdir(sub);
    for (const name of [
      "GeoLite2-ASN.mmdb",
      "dbip-asn-lite-2024-05.mmdb",
      "dbip-country-lite-2024-04.mmdb",
      "dbip-country-lite-2024-05.mmdb",
      "dbip-country-lite-2024-03.mmdb",
      "dbip-city-lite-2024-05.mmdb.gz",
      "README.txt",
    ]) {
      await writeFile(path.join(sub, name), "");
    }
    assert.deepEqual(await findGeoDbs(sub), {
      asnDb: path.join(sub, "GeoLite2-ASN.mmdb"),
      countryDb: path.join(sub, "dbip-country-lite-2024-05.mmdb"),
    });
    assert.deepEqual(await findGeoDbs(dir), {
      asnDb: file("GeoLite2-ASN.mmdb"),
      countryDb: file("GeoLite2-Country.mmdb"),
      cityDb: file("GeoLite2-City.mmdb"),
    });
    assert.deepEqual(await findGeoDbs(path.join(dir, "absent")), {});
  });
});
