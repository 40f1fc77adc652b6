import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  formatIp,
  formatIpv4,
  formatIpv6,
  parseIp,
  parseIpv4,
  parseIpv6,
  peerAddress,
  unmapIpv4,
} from "../src/net/ip.js";
import { DEFAULT_BLOCKLIST } from "../src/net/reserved.js";
import {
  buildTargetSpace,
  emptyTargetInput,
  parseExcludeText,
  parsePorts,
  parseReservedAllowance,
  parseTargetText,
  parseTargetToken,
  spaceBreakdown,
  type TargetInput,
  TargetSpecError,
  TargetWalk,
  targetSpaceFingerprint,
} from "../src/targets/index.js";

const V6_MAX = (1n << 128n) - 1n;

function ip(s: string): bigint {
  const v = parseIp(s);
  assert.ok(v, `test address ${s} should parse`);
  return v.value;
}

function input(...tokens: string[]): TargetInput {
  const into = emptyTargetInput();
  for (const t of tokens) parseTargetToken(t, into);
  return into;
}

/** Asserts a TargetSpecError whose message equals (string) or matches (RegExp). */
function throwsSpec(fn: () => unknown, expected: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TargetSpecError, `expected TargetSpecError, got ${String(e)}`);
    if (typeof expected === "string") assert.equal(e.message, expected);
    else assert.match(e.message, expected);
    assert.ok(!e.message.includes("\n"), "message is one line");
    return true;
  });
}

describe("ip: parse and format", () => {
  test("IPv4 round trip over all values (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const s = formatIpv4(n);
        assert.equal(parseIpv4(s), n);
        assert.deepEqual(parseIp(s), { family: 4, value: BigInt(n) });
        assert.equal(formatIp(4, BigInt(n)), s);
      }),
      { numRuns: 2000 },
    );
  });

  test("IPv4 text from fast-check parses to the same text", () => {
    fc.assert(
      fc.property(fc.ipV4(), (s) => {
        const v = parseIp(s);
        assert.ok(v);
        assert.equal(formatIp(4, v.value), s);
      }),
    );
  });

  test("IPv6 round trip over random values, zero runs favoured (property)", () => {
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    const value = fc.oneof(
      fc.bigInt(0n, V6_MAX),
      fc
        .array(group, { minLength: 8, maxLength: 8 })
        .map((gs) => gs.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n)),
    );
    fc.assert(
      fc.property(value, (v) => {
        const s = formatIpv6(v);
        assert.equal(parseIpv6(s), v);
        assert.equal(s, s.toLowerCase());
        // WHATWG URL serialises IPv6 like RFC 5952 except IPv4-mapped (no dotted quad there).
        if (v >> 32n !== 0xffffn) assert.equal(s, new URL(`http://[${s}]/`).hostname.slice(1, -1));
      }),
      { numRuns: 3000 },
    );
  });

  test("IPv6 text forms from fast-check parse and re-format canonically", () => {
    fc.assert(
      fc.property(fc.ipV6(), (s) => {
        const v = parseIpv6(s);
        assert.notEqual(v, undefined, s);
        assert.equal(parseIpv6(formatIpv6(v!)), v);
      }),
    );
  });

  test("RFC 5952 canonical form examples", () => {
    const cases: [string, string][] = [
      ["2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"],
      ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"],
      ["2001:0db8::0001", "2001:db8::1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group: no "::"
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // longest run wins
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // tie: first run
      ["2001:DB8::AbCd", "2001:db8::abcd"],
      ["0:0:0:0:0:0:0:0", "::"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["1:0:0:0:0:0:0:0", "1::"],
      ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
      ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
      ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
      ["::ffff:0102:0304", "::ffff:1.2.3.4"],
      ["::1.2.3.4", "::102:304"],
      ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
      ["fe80::1:2:3:4", "fe80::1:2:3:4"],
    ];
    for (const [text, canonical] of cases) {
      const v = parseIp(text);
      assert.ok(v && v.family === 6, text);
      assert.equal(formatIp(6, v.value), canonical, text);
    }
  });

  test("rejects malformed and ambiguous addresses", () => {
    for (const bad of [
      "",
      "1.2.3",
      "01.2.3.4", // leading zero: octal to inet_aton, decimal to others
      "1.2.3.04",
      "00.0.0.0",
      "1.2.3.256",
      "1.2.3.4.5",
      "1..2.3",
      " 1.2.3.4",
      "1.2.3.4 ",
      "1.2.3.-1",
      "16909060",
      "0x1.2.3.4",
      "::1::",
      ":::",
      "1::2::3",
      "fe80::1%eth0",
      "fe80::1%1",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1::2:3:4:5:6:7:8",
      "12345::",
      "g::",
      ":1::",
      "1:",
      "::1:",
      "1.2.3.4::",
      "::ffff:01.2.3.4",
      "::ffff:1.2.3",
      "1:2:3:4:5:6:7:1.2.3.4",
      "[::1]",
    ]) {
      assert.equal(parseIp(bad), undefined, JSON.stringify(bad));
    }
  });

  test("formatIp refuses values outside the family", () => {
    assert.throws(() => formatIp(4, 1n << 32n), RangeError);
    assert.throws(() => formatIp(6, -1n), RangeError);
    assert.equal(formatIp(4, 0xffffffffn), "255.255.255.255");
    assert.equal(formatIp(6, V6_MAX), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  });

  test("peerAddress: a dual-stack socket's IPv4 peer as IPv4, any other text as it is", () => {
    for (const [socket, peer] of [
      ["::ffff:198.51.100.7", "198.51.100.7"],
      ["::FFFF:127.0.0.1", "127.0.0.1"],
      ["198.51.100.7", "198.51.100.7"],
      ["2001:db8::1", "2001:db8::1"],
      ["::1", "::1"],
      ["", ""],
    ] as const) {
      assert.equal(peerAddress(socket), peer, socket);
      // The same address as unmapIpv4 gives from the parsed value.
      const u = unmapIpv4(parseIp(socket) ?? { family: 4, value: 0n });
      if (socket !== "") assert.equal(formatIp(u.family, u.value), peer, socket);
    }
  });
});

describe("ports", () => {
  test("lists and ranges, sorted and unique", () => {
    assert.deepEqual(parsePorts("6379"), [6379]);
    assert.deepEqual(
      parsePorts("6379,6380,7000-7005"),
      [6379, 6380, 7000, 7001, 7002, 7003, 7004, 7005],
    );
    assert.deepEqual(parsePorts("7000,6379,6379,7000"), [6379, 7000]);
    assert.deepEqual(parsePorts(" 3-5 , 1-4 "), [1, 2, 3, 4, 5]);
    assert.deepEqual(parsePorts("1,65535"), [1, 65535]);
    assert.equal(parsePorts("1-65535").length, 65535);
  });

  test("errors name the token and the reason", () => {
    throwsSpec(() => parsePorts("0"), 'invalid port "0": ports are 1-65535');
    throwsSpec(() => parsePorts("70000"), 'invalid port "70000": ports are 1-65535');
    throwsSpec(() => parsePorts("6379,70000"), 'invalid port "70000": ports are 1-65535');
    throwsSpec(
      () => parsePorts("7005-7000"),
      'invalid port range "7005-7000": 7005 is greater than 7000',
    );
    throwsSpec(() => parsePorts("abc"), /^invalid port "abc": expected a number 1-65535/);
    throwsSpec(() => parsePorts(""), /^no ports given/);
    throwsSpec(() => parsePorts("6379,"), /empty item/);
    throwsSpec(() => parsePorts("-1"), /^invalid port "-1"/);
    throwsSpec(() => parsePorts("1-2-3"), /^invalid port "1-2-3"/);
    throwsSpec(() => parsePorts("6379.5"), /^invalid port "6379.5"/);
    throwsSpec(() => parsePorts("0-10"), 'invalid port "0-10": ports are 1-65535');
  });
});

describe("target specs", () => {
  test("addresses and CIDRs (host bits cleared)", () => {
    const t = input(
      "192.0.2.1",
      "2001:db8::1",
      "10.1.2.3/8",
      "2001:db8::1/64",
      "0.0.0.0/0",
      "::/0",
    );
    assert.deepEqual(
      t.ranges.map((r) => [r.family, formatIp(r.family, r.start), formatIp(r.family, r.end)]),
      [
        [4, "192.0.2.1", "192.0.2.1"],
        [6, "2001:db8::1", "2001:db8::1"],
        [4, "10.0.0.0", "10.255.255.255"],
        [6, "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"],
        [4, "0.0.0.0", "255.255.255.255"],
        [6, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
      ],
    );
    assert.equal(t.ranges[2]!.source, "10.1.2.3/8");
    assert.deepEqual(t.pairs, []);
    assert.deepEqual(t.hostnames, []);
  });

  test("ranges, including the short last-octet form", () => {
    const t = input("10.0.0.1-10.0.0.9", "10.0.0.1-20", "10.0.0.7-7", "2001:db8::1-2001:db8::ff");
    assert.deepEqual(
      t.ranges.map((r) => [formatIp(r.family, r.start), formatIp(r.family, r.end)]),
      [
        ["10.0.0.1", "10.0.0.9"],
        ["10.0.0.1", "10.0.0.20"],
        ["10.0.0.7", "10.0.0.7"],
        ["2001:db8::1", "2001:db8::ff"],
      ],
    );
  });

  test("ip:port and [v6]:port pairs; [v6] alone is an address", () => {
    const t = input("192.0.2.1:6380", "[2001:db8::1]:7000", "[2001:db8::2]");
    assert.deepEqual(
      t.pairs.map((p) => [p.family, formatIp(p.family, p.ip), p.port, p.source]),
      [
        [4, "192.0.2.1", 6380, "192.0.2.1:6380"],
        [6, "2001:db8::1", 7000, "[2001:db8::1]:7000"],
      ],
    );
    assert.equal(t.ranges.length, 1);
    assert.equal(t.ranges[0]!.start, ip("2001:db8::2"));
    // An unbracketed IPv6 address never carries a port.
    assert.equal(input("2001:db8::1:6379").ranges[0]!.start, ip("2001:db8::1:6379"));
  });

  test("hostnames, lower-cased, with optional port", () => {
    const t = input(
      "redis.example.com",
      "Cache.Example.COM:6380",
      "localhost",
      "a-b.example.",
      "x1",
    );
    assert.deepEqual(t.hostnames, [
      { name: "redis.example.com", source: "redis.example.com" },
      { name: "cache.example.com", port: 6380, source: "Cache.Example.COM:6380" },
      { name: "localhost", source: "localhost" },
      { name: "a-b.example.", source: "a-b.example." },
      { name: "x1", source: "x1" },
    ]);
  });

  test("malformed tokens: one-line errors naming token and reason", () => {
    const cases: [string, string | RegExp][] = [
      ["10.0.0.0/33", 'invalid CIDR "10.0.0.0/33": prefix length must be 0-32 for IPv4'],
      ["2001:db8::/129", 'invalid CIDR "2001:db8::/129": prefix length must be 0-128 for IPv6'],
      ["10.0.0.0/", /^invalid CIDR "10.0.0.0\/": prefix length/],
      ["10.0.0.0/8/8", /^invalid CIDR/],
      ["foo/8", /^invalid CIDR "foo\/8": "foo": not an IP address/],
      ["10.0.0.9-10.0.0.1", 'invalid range "10.0.0.9-10.0.0.1": the start is after the end'],
      ["10.0.0.9-3", 'invalid range "10.0.0.9-3": the start is after the end'],
      ["10.0.0.1-300", /^invalid range "10.0.0.1-300": last octet "300" must be 0-255/],
      ["10.0.0.1-2001:db8::1", 'invalid range "10.0.0.1-2001:db8::1": both ends must be IPv4'],
      ["10.0.0.1-foo", /^invalid range "10.0.0.1-foo": "foo" is not an IP address/],
      ["1.2.3", /^invalid IPv4 address "1.2.3": expected four decimal octets/],
      ["01.2.3.4", /^invalid IPv4 address "01.2.3.4": octet "01" has a leading zero/],
      ["1.2.3.256", 'invalid IPv4 address "1.2.3.256": octet 256 is above 255'],
      ["::1::", /^invalid IPv6 address "::1::"/],
      ["fe80::1%eth0", /^invalid target "fe80::1%eth0": zone ids \(%\) are not allowed/],
      [
        "redis_1.example.com",
        /^invalid target "redis_1.example.com": .*"redis_1" may contain only/,
      ],
      ["-bad.example.com", /label "-bad" starts or ends with "-"/],
      ["a..b", /empty label/],
      [`${"a".repeat(64)}.com`, /longer than 63/],
      ["1.2.3.4:0", 'invalid port "0": ports are 1-65535'],
      ["1.2.3.4:70000", 'invalid port "70000": ports are 1-65535'],
      ["1.2.3.4:", /^invalid port ""/],
      ["1.2.3:80", /^invalid IPv4 address "1.2.3"/],
      ["host_x:80", /^invalid hostname "host_x"/],
      // File names are never sent to a resolver as hostnames (`-oJ x.json` misread).
      [
        "x.json",
        /^invalid target "x\.json": .*looks like a file name: read targets from a file with -iL x\.json/,
      ],
      ["Hosts.TXT", /looks like a file name/],
      ["scan.jsonl:6379", /^invalid hostname "scan\.jsonl": .*looks like a file name/],
      ["[::1", /missing "\]"/],
      ["[1.2.3.4]:80", /must be an IPv6 address/],
      ["[::1]6379", /expected ":port" after "\]"/],
      ["   ", "empty target"],
      ['evil\x1b[2J"x', /^invalid target "evil\\x1b\[2J\\"x": /],
      [`${"x".repeat(300)}_`, /^invalid target "x{80}…": /],
    ];
    for (const [token, expected] of cases) {
      throwsSpec(() => parseTargetToken(token, emptyTargetInput()), expected);
    }
  });

  test("a file: comments, blank lines, several tokens a line, sources with line numbers", () => {
    const into = emptyTargetInput();
    parseTargetText(
      "# office networks\n\n192.0.2.0/24  # lab\r\n198.51.100.1, 198.51.100.2 redis.example.com\n\t[2001:db8::1]:6380\n",
      into,
      "targets.txt",
    );
    assert.deepEqual(
      into.ranges.map((r) => r.source),
      [
        "192.0.2.0/24 (targets.txt:3)",
        "198.51.100.1 (targets.txt:4)",
        "198.51.100.2 (targets.txt:4)",
      ],
    );
    assert.deepEqual(into.hostnames, [
      { name: "redis.example.com", source: "redis.example.com (targets.txt:4)" },
    ]);
    assert.equal(into.pairs[0]!.source, "[2001:db8::1]:6380 (targets.txt:5)");
  });

  test("errors in a file carry the file name and line number", () => {
    const text = `${"10.0.0.1\n".repeat(11)}10.0.0.0/33\n`;
    throwsSpec(
      () => parseTargetText(text, emptyTargetInput(), "targets.txt"),
      'targets.txt:12: invalid CIDR "10.0.0.0/33": prefix length must be 0-32 for IPv4',
    );
    throwsSpec(
      () => parseTargetText("ok.example\nbad_host\n", emptyTargetInput(), "stdin"),
      /^stdin:2: invalid target "bad_host"/,
    );
  });

  test("zmap default output: one address a line", () => {
    const into = emptyTargetInput();
    parseTargetText("1.2.3.4\n5.6.7.8\n2001:db8::9\n", into, "zmap.out");
    assert.equal(into.ranges.length, 3);
    assert.equal(into.ranges[2]!.family, 6);
  });

  test("zmap CSV: saddr column; sport makes pairs", () => {
    const a = emptyTargetInput();
    parseTargetText(
      "saddr,classification,success\n1.2.3.4,synack,1\n5.6.7.8,synack,1\n",
      a,
      "z.csv",
    );
    assert.deepEqual(
      a.ranges.map((r) => [formatIp(4, r.start), r.source]),
      [
        ["1.2.3.4", "1.2.3.4 (z.csv:2)"],
        ["5.6.7.8", "5.6.7.8 (z.csv:3)"],
      ],
    );
    const b = emptyTargetInput();
    parseTargetText(
      "daddr,saddr,sport\n9.9.9.9,1.2.3.4,6380\n9.9.9.9,2001:db8::1,6379\n",
      b,
      "z.csv",
    );
    assert.deepEqual(
      b.pairs.map((p) => [p.family, formatIp(p.family, p.ip), p.port]),
      [
        [4, "1.2.3.4", 6380],
        [6, "2001:db8::1", 6379],
      ],
    );
    const lone = emptyTargetInput();
    parseTargetText("saddr\n1.2.3.4\n", lone, "z.csv");
    assert.equal(lone.ranges.length, 1);
  });

  test("CSV with an ip column (and port)", () => {
    const into = emptyTargetInput();
    parseTargetText("ip,port,asn\n1.2.3.4,6379,13335\n5.6.7.8,,13335\n", into, "hosts.csv");
    assert.equal(into.pairs.length, 1);
    assert.equal(into.pairs[0]!.port, 6379);
    assert.equal(into.ranges.length, 1);
  });

  test("CSV rows with errors name the line and column", () => {
    throwsSpec(
      () =>
        parseTargetText("saddr,sport\n1.2.3.4,6379\nnot-an-ip,6379\n", emptyTargetInput(), "z.csv"),
      /^z\.csv:3: invalid address "not-an-ip" in column "saddr"/,
    );
    throwsSpec(
      () => parseTargetText("saddr,sport\n1.2.3.4,99999\n", emptyTargetInput(), "z.csv"),
      'z.csv:2: column "sport": invalid port "99999": ports are 1-65535',
    );
    throwsSpec(
      () => parseTargetText("saddr,sport\n,6379\n", emptyTargetInput(), "z.csv"),
      'z.csv:2: CSV row has no value in column "saddr"',
    );
  });

  test("masscan -oL list output becomes pairs", () => {
    const into = emptyTargetInput();
    parseTargetText(
      [
        "#masscan",
        "open tcp 6379 1.2.3.4 1700000000",
        "open tcp 6380 2001:db8::5 1700000001",
        "banner tcp 6379 1.2.3.4 1700000002 redis -ERR unknown command",
        "closed tcp 6379 5.6.7.8 1700000003",
        "open udp 53 5.6.7.9 1700000004",
        "# end",
        "",
      ].join("\n"),
      into,
      "masscan.txt",
    );
    assert.deepEqual(
      into.pairs.map((p) => [formatIp(p.family, p.ip), p.port, p.source]),
      [
        ["1.2.3.4", 6379, "1.2.3.4:6379 (masscan.txt:2)"],
        ["2001:db8::5", 6380, "[2001:db8::5]:6380 (masscan.txt:3)"],
        ["1.2.3.4", 6379, "1.2.3.4:6379 (masscan.txt:4)"],
      ],
    );
    assert.equal(into.ranges.length + into.hostnames.length, 0);
    throwsSpec(
      () => parseTargetText("open tcp 6379 1.2.3.999 1700000000\n", emptyTargetInput(), "m.txt"),
      /^m\.txt:1: invalid address "1\.2\.3\.999" in masscan line/,
    );
  });
});

/** The IPv4 addresses in zmap's default blocklist, as listed in the brief (255.255.255.255 is in 240/4). */
const RESERVED_V4 =
  3n * (1n << 24n) + // 0/8, 10/8, 127/8
  (1n << 22n) + // 100.64/10
  2n * (1n << 16n) + // 169.254/16, 192.168/16
  (1n << 20n) + // 172.16/12
  5n * 256n + // 192.0.0/24, 192.0.2/24, 192.88.99/24, 198.51.100/24, 203.0.113/24
  (1n << 17n) + // 198.18/15
  2n * (1n << 28n); // 224/4, 240/4

const NO_OPTS = { allowReserved: false, exclude: [] };

describe("blocklist", () => {
  test("every entry has a CIDR, a name and an RFC", () => {
    for (const e of DEFAULT_BLOCKLIST) {
      assert.match(e.cidr, /\/[0-9]+$/);
      assert.ok(parseIp(e.cidr.split("/")[0]!), e.cidr);
      assert.ok(e.name.length > 0);
      assert.match(e.rfc, /^RFC [0-9]+$/);
    }
  });

  test("a target entirely in a reserved range is refused, saying how to allow it", () => {
    throwsSpec(
      () => buildTargetSpace(input("127.0.0.1"), [6379], NO_OPTS),
      "target 127.0.0.1 is in 127.0.0.0/8 (loopback, RFC 1122), which redscope does not scan by default; pass --allow-reserved 127.0.0.0/8 to scan it (e.g. your own network)",
    );
    throwsSpec(
      () => buildTargetSpace(input("10.0.0.0/8"), [6379], NO_OPTS),
      /^target 10\.0\.0\.0\/8 is in 10\.0\.0\.0\/8 \(private-use, RFC 1918\).*--allow-reserved/,
    );
    throwsSpec(
      () => buildTargetSpace(input("192.168.1.10:6380"), [6379], NO_OPTS),
      /^target 192\.168\.1\.10:6380 is in 192\.168\.0\.0\/16 \(private-use, RFC 1918\)/,
    );
    throwsSpec(
      () => buildTargetSpace(input("::1"), [6379], NO_OPTS),
      /^target ::1 is in ::1\/128 \(loopback, RFC 4291\)/,
    );
    throwsSpec(
      () => buildTargetSpace(input("::ffff:127.0.0.1"), [6379], NO_OPTS),
      /^target ::ffff:127\.0\.0\.1 is in ::ffff:0:0\/96 \(IPv4-mapped, RFC 4291\)/,
    );
    throwsSpec(
      () => buildTargetSpace(input("64:ff9b::10.0.0.1"), [6379], NO_OPTS),
      /is in 64:ff9b::\/96 \(IPv4\/IPv6 translation \(NAT64\), RFC 6052\)/,
    );
    throwsSpec(
      () => buildTargetSpace(input("2001:db8::/48"), [6379], NO_OPTS),
      /is in 2001:db8::\/32 \(documentation, RFC 3849\)/,
    );
    throwsSpec(
      () => buildTargetSpace(input("2002:c000:0201::1"), [6379], NO_OPTS),
      /is in 2002::\/16 \(6to4/,
    );
    // Covered only by two adjacent entries together: both are named.
    throwsSpec(
      () =>
        buildTargetSpace(
          input("223.255.255.255-224.0.0.1", "239.255.255.255-240.0.0.0"),
          [1],
          NO_OPTS,
        ),
      /^target 239\.255\.255\.255-240\.0\.0\.0 is covered by 224\.0\.0\.0\/4 \(multicast, RFC 5771\) and 240\.0\.0\.0\/4/,
    );
  });

  test("the refusal names the file and line of the target", () => {
    const into = emptyTargetInput();
    parseTargetText("8.8.8.8\n169.254.169.254\n", into, "targets.txt");
    throwsSpec(
      () => buildTargetSpace(into, [6379], NO_OPTS),
      /^target 169\.254\.169\.254 \(targets\.txt:2\) is in 169\.254\.0\.0\/16 \(link-local, RFC 3927\)/,
    );
  });

  test("0.0.0.0/0 skips the reserved parts silently and counts them", () => {
    const space = buildTargetSpace(input("0.0.0.0/0"), [6379], NO_OPTS);
    assert.equal(space.size, (1n << 32n) - RESERVED_V4);
    assert.deepEqual(space.skipped, { reserved: RESERVED_V4, excluded: 0n });
    assert.equal(space.has("127.0.0.1", 6379), false);
    assert.equal(space.has("8.8.8.8", 6379), true);
    assert.equal(space.has("255.255.255.255", 6379), false);
    assert.equal(space.has("223.255.255.255", 6379), true);
    const two = buildTargetSpace(input("0.0.0.0/0"), [6379, 6380], NO_OPTS);
    assert.equal(two.size, 2n * ((1n << 32n) - RESERVED_V4));
    assert.equal(two.skipped.reserved, RESERVED_V4, "skipped counts addresses, not targets");
  });

  test("--allow-reserved lifts the blocklist", () => {
    const all = buildTargetSpace(input("0.0.0.0/0"), [6379], { allowReserved: true, exclude: [] });
    assert.equal(all.size, 1n << 32n);
    assert.deepEqual(all.skipped, { reserved: 0n, excluded: 0n });
    const lo = buildTargetSpace(input("127.0.0.1", "10.0.0.0/8"), [6379], {
      allowReserved: true,
      exclude: [],
    });
    assert.equal(lo.size, (1n << 24n) + 1n);
    assert.ok(lo.has("127.0.0.1", 6379));
  });

  test("IPv6 ::/0 builds in O(1) with the special-purpose ranges removed", () => {
    const space = buildTargetSpace(input("::/0"), [6379], NO_OPTS);
    assert.ok(space.size > 1n << 127n);
    assert.equal(space.size + space.skipped.reserved, 1n << 128n);
    assert.equal(space.has("2001:db8::1", 6379), false);
    assert.equal(space.has("fe80::1", 6379), false);
    assert.equal(space.has("2a00:1450:4001::1", 6379), true);
  });

  test("an exclude file subtracts, silently, even whole targets", () => {
    const exclude = parseExcludeText(
      "# opt-outs\n1.0.0.0/8\n2.0.0.1-2.0.0.10, 3.3.3.3 # asked on 2024-01-01\n\n2001:4860::/32\n",
      "optout.txt",
    );
    assert.equal(exclude.length, 4);
    assert.equal(exclude[1]!.source, "2.0.0.1-2.0.0.10 (optout.txt:3)");
    const space = buildTargetSpace(input("0.0.0.0/0"), [6379], { allowReserved: false, exclude });
    const removed = (1n << 24n) + 10n + 1n;
    assert.equal(space.size, (1n << 32n) - RESERVED_V4 - removed);
    assert.deepEqual(space.skipped, { reserved: RESERVED_V4, excluded: removed });
    assert.equal(space.has("1.2.3.4", 6379), false);
    assert.equal(space.has("2.0.0.11", 6379), true);
    // A target wholly excluded is no error: the opt-out wins, the space is just smaller.
    const gone = buildTargetSpace(input("3.3.3.3", "3.3.3.3:6380", "[2001:4860::8]:6379"), [6379], {
      allowReserved: false,
      exclude,
    });
    assert.equal(gone.size, 0n);
    assert.deepEqual(gone.skipped, { reserved: 0n, excluded: 3n });
    // Exclusions also apply with --allow-reserved.
    const own = buildTargetSpace(input("10.0.0.0/8"), [6379], {
      allowReserved: true,
      exclude: parseExcludeText("10.0.0.0/9", "x"),
    });
    assert.equal(own.size, 1n << 23n);
  });

  test("exclude file errors name the line", () => {
    throwsSpec(
      () => parseExcludeText("1.2.3.4\nexample.com\n", "optout.txt"),
      'optout.txt:2: invalid exclude entry "example.com": expected an address, CIDR or range',
    );
    throwsSpec(
      () => parseExcludeText("1.2.3.0/40\n", "optout.txt"),
      /^optout\.txt:1: invalid CIDR "1\.2\.3\.0\/40"/,
    );
    throwsSpec(
      () => parseExcludeText("1.2.3.9-1\n", "optout.txt"),
      /^optout\.txt:1: invalid range/,
    );
  });
});

/** All targets of a space via at(), as "ip|port" strings (asserting no duplicates). */
function enumerate(space: ReturnType<typeof buildTargetSpace>): string[] {
  const out: string[] = [];
  for (let i = 0n; i < space.size; i++) {
    const t = space.at(i);
    const n = space.atNumber(Number(i));
    assert.deepEqual(n, t);
    assert.equal(t.family, t.ip.includes(":") ? 6 : 4);
    out.push(`${t.ip}|${t.port}`);
  }
  return out;
}

describe("target space", () => {
  test("overlapping CIDRs + ranges + pairs × ports: exactly the expected set", () => {
    const t = input(
      "8.8.8.0/30",
      "8.8.8.2-8.8.8.5",
      "8.8.8.4",
      "8.8.8.3/32",
      "2a00:1450::/126",
      "2a00:1450::3",
      "8.8.8.1:9999", // new port on a product address: kept as a pair
      "8.8.8.1:6379", // already in the product
      "9.9.9.9:6379",
      "9.9.9.9:6379", // duplicate pair
      "[2a00:1450::1]:6380", // already in the product
      "[2a00:1450::10]:7000",
    );
    const space = buildTargetSpace(t, [6380, 6379, 6379], NO_OPTS);
    const expected = new Set<string>();
    for (let i = 0; i <= 5; i++) for (const p of [6379, 6380]) expected.add(`8.8.8.${i}|${p}`);
    for (const a of ["2a00:1450::", "2a00:1450::1", "2a00:1450::2", "2a00:1450::3"]) {
      for (const p of [6379, 6380]) expected.add(`${a}|${p}`);
    }
    for (const pair of ["8.8.8.1|9999", "9.9.9.9|6379", "2a00:1450::10|7000"]) expected.add(pair);
    const got = enumerate(space);
    assert.equal(got.length, expected.size);
    assert.deepEqual(new Set(got), expected);
    assert.equal(space.size, BigInt(expected.size));
    assert.equal(space.addressCount, 10n);
    assert.equal(space.pairCount, 3);
    assert.deepEqual(space.ports, [6379, 6380]);
    for (const key of expected) {
      const [a, p] = key.split("|");
      assert.ok(space.has(a!, Number(p)), key);
    }
    for (const [a, p] of [
      ["8.8.8.6", 6379],
      ["8.8.8.1", 6381],
      ["9.9.9.9", 6380],
      ["2a00:1450::4", 6379],
      ["2a00:1450::10", 6379],
      ["not an ip", 6379],
      ["8.8.8.1", 0],
    ] as const) {
      assert.equal(space.has(a, p), false, `${a}|${p}`);
    }
    // Layout: product first (IPv4, then IPv6; address-major), then pairs.
    assert.deepEqual(space.at(0n), { ip: "8.8.8.0", port: 6379, family: 4 });
    assert.deepEqual(space.at(1n), { ip: "8.8.8.0", port: 6380, family: 4 });
    assert.deepEqual(space.at(12n), { ip: "2a00:1450::", port: 6379, family: 6 });
    assert.deepEqual(space.at(space.size - 1n), { ip: "2a00:1450::10", port: 7000, family: 6 });
    assert.throws(() => space.at(space.size), RangeError);
    assert.throws(() => space.at(-1n), RangeError);
    assert.throws(() => space.atNumber(Number(space.size)), RangeError);
  });

  test("at() matches brute force for random unions (property)", () => {
    const v4range = fc
      .tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 40 }))
      .map(([a, n]) => `${formatIpv4(0x08080000 + a)}-${formatIpv4(0x08080000 + a + n)}`);
    const v6range = fc
      .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 20 }))
      .map(([a, n]) => `2a00:1450::${a.toString(16)}-2a00:1450::${(a + n).toString(16)}`);
    const pair = fc
      .tuple(fc.integer({ min: 0, max: 400 }), fc.constantFrom(6379, 6380, 7000))
      .map(([a, p]) => `${formatIpv4(0x08080000 + a)}:${p}`);
    const excl = fc.integer({ min: 0, max: 350 }).map((a) => `${formatIpv4(0x08080000 + a)}/30`);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(v4range, v6range, pair), { maxLength: 8 }),
        fc.subarray([6379, 6380, 6381], { minLength: 1 }),
        fc.array(excl, { maxLength: 3 }),
        (tokens, ports, excludes) => {
          const exclude = parseExcludeText(excludes.join("\n"), "x");
          const space = buildTargetSpace(input(...tokens), ports, {
            allowReserved: false,
            exclude,
          });
          // Brute force: expand every token.
          const excluded = (v: bigint) =>
            exclude.some((r) => r.family === 4 && r.start <= v && v <= r.end);
          const expected = new Set<string>();
          const t = input(...tokens);
          for (const r of t.ranges) {
            for (let v = r.start; v <= r.end; v++) {
              if (r.family === 4 && excluded(v)) continue;
              for (const p of ports) expected.add(`${formatIp(r.family, v)}|${p}`);
            }
          }
          for (const p of t.pairs)
            if (!excluded(p.ip)) expected.add(`${formatIp(4, p.ip)}|${p.port}`);
          const got = enumerate(space);
          assert.equal(got.length, expected.size);
          assert.deepEqual(new Set(got), expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  test("fingerprint: same set → same hash, whatever the spelling; different set → different", () => {
    const a = buildTargetSpace(input("8.8.8.0/30", "9.9.9.9:7000"), [6379], NO_OPTS);
    const b = buildTargetSpace(
      input("9.9.9.9:7000", "8.8.8.2-3", "8.8.8.0", "8.8.8.1"),
      [6379, 6379],
      NO_OPTS,
    );
    const c = buildTargetSpace(input("8.8.8.0/30", "9.9.9.9:7000"), [6380], NO_OPTS);
    const d = buildTargetSpace(input("8.8.8.0/30"), [6379], NO_OPTS);
    assert.match(a.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(a.fingerprint, b.fingerprint);
    assert.notEqual(a.fingerprint, c.fingerprint);
    assert.notEqual(a.fingerprint, d.fingerprint);
  });

  test("an IPv6 /64 with several ports is one interval: size beyond 2^53, at() in bigint", () => {
    const space = buildTargetSpace(input("2a00:1450:4001:800::/64"), [6379, 6380, 7000], NO_OPTS);
    assert.equal(space.size, 3n << 64n);
    assert.equal(space.numberIndexable, false);
    assert.deepEqual(space.at(space.size - 1n), {
      ip: "2a00:1450:4001:800:ffff:ffff:ffff:ffff",
      port: 7000,
      family: 6,
    });
    assert.deepEqual(space.at(3n * 0x1234n + 1n), {
      ip: "2a00:1450:4001:800::1234",
      port: 6380,
      family: 6,
    });
    assert.ok(space.has("2a00:1450:4001:800::abcd", 7000));
    assert.throws(() => space.atNumber(0), RangeError);
    // Mixed families and pairs beyond 2^53: IPv4 first, pairs last.
    const mixed = buildTargetSpace(
      input("2a00:1450:4001:800::/64", "8.8.8.8", "9.9.9.9:7000", "[2a00:1450::1]:7000"),
      [6379],
      NO_OPTS,
    );
    assert.equal(mixed.size, (1n << 64n) + 3n);
    assert.deepEqual(mixed.at(0n), { ip: "8.8.8.8", port: 6379, family: 4 });
    assert.deepEqual(mixed.at(1n), { ip: "2a00:1450:4001:800::", port: 6379, family: 6 });
    assert.deepEqual(mixed.at(mixed.size - 2n), { ip: "9.9.9.9", port: 7000, family: 4 });
    assert.deepEqual(mixed.at(mixed.size - 1n), { ip: "2a00:1450::1", port: 7000, family: 6 });
  });

  test("hostnames must be resolved before building; bad ports are refused", () => {
    assert.throws(
      () => buildTargetSpace(input("redis.example.com"), [6379], NO_OPTS),
      /resolve hostnames/,
    );
    throwsSpec(() => buildTargetSpace(input("8.8.8.8"), [0], NO_OPTS), /invalid port "0"/);
  });

  test("empty input or no ports: an empty space", () => {
    assert.equal(buildTargetSpace(emptyTargetInput(), [6379], NO_OPTS).size, 0n);
    const pairsOnly = buildTargetSpace(input("8.8.8.8", "9.9.9.9:6379"), [], NO_OPTS);
    assert.equal(pairsOnly.size, 1n);
    assert.deepEqual(pairsOnly.at(0n), { ip: "9.9.9.9", port: 6379, family: 4 });
  });
});

describe("--allow-reserved RANGES", () => {
  const allow = (text: string) => parseReservedAllowance(text);
  const list = (t: ReturnType<typeof allow>) =>
    t === true || t === false ? t : t.map((r) => [r.family, formatIp(r.family, r.start)]);

  test("all, or CIDRs of both families separated by commas", () => {
    assert.equal(allow("all"), true);
    assert.deepEqual(list(allow("10.0.0.0/8, 127.0.0.0/8,fd00::/8")), [
      [4, "10.0.0.0"],
      [4, "127.0.0.0"],
      [6, "fd00::"],
    ]);
  });

  test("anything else is refused with one line", () => {
    throwsSpec(() => allow("10.0.0.1"), /--allow-reserved "10\.0\.0\.1": expected CIDRs/);
    throwsSpec(() => allow("10.0.0.0/33"), /--allow-reserved: invalid CIDR "10\.0\.0\.0\/33"/);
    throwsSpec(() => allow("10.0.0.0/8,,"), /--allow-reserved "": expected CIDRs/);
    throwsSpec(() => allow("8.8.8.0/24"), /8\.8\.8\.0\/24.*not in the default blocklist/);
  });

  test("only the ranges named are lifted: others still refuse, and partial overlaps are skipped", () => {
    const opts = { allowReserved: allow("127.0.0.0/8"), exclude: [] };
    const lo = buildTargetSpace(input("127.0.0.0/30"), [6379], opts);
    assert.equal(lo.size, 4n);
    throwsSpec(
      () => buildTargetSpace(input("10.1.2.3"), [6379], opts),
      /10\.1\.2\.3 is in 10\.0\.0\.0\/8 .*pass --allow-reserved 10\.0\.0\.0\/8 to scan it/,
    );
    // A /24 allowed inside 10/8: a /16 around it keeps that /24 only.
    const part = buildTargetSpace(input("10.1.0.0/16"), [6379], {
      allowReserved: allow("10.1.2.0/24"),
      exclude: [],
    });
    assert.equal(part.size, 256n);
    assert.equal(part.skipped.reserved, 65536n - 256n);
    assert.ok(part.has("10.1.2.9", 6379));
    assert.ok(!part.has("10.1.3.9", 6379));
    // IPv6 alike.
    const v6 = buildTargetSpace(input("fd00::/126"), [6379], {
      allowReserved: allow("fc00::/7"),
      exclude: [],
    });
    assert.equal(v6.size, 4n);
    throwsSpec(
      () =>
        buildTargetSpace(input("::1"), [6379], { allowReserved: allow("fc00::/7"), exclude: [] }),
      /--allow-reserved ::1\/128 to scan it/,
    );
  });
});

describe("dry-run breakdown", () => {
  test("names the blocklist entries and exclude lines that took addresses, with exact counts", () => {
    const exclude = parseExcludeText("8.8.8.0/30\n8.8.4.4 # resolver\n", "optout.txt");
    const targets = input("8.8.8.0/24", "8.8.4.4:6380", "9.255.255.0-10.0.0.255", "127.0.0.0/30");
    const opts = { allowReserved: allow127(), exclude };
    const b = spaceBreakdown(targets, opts);
    const space = buildTargetSpace(targets, [6379], opts);
    assert.deepEqual(
      b.reserved.map((r) => [r.rule, r.addresses]),
      [["10.0.0.0/8 (private-use)", 256n]],
    );
    assert.equal(b.allowedReserved, 4n);
    assert.deepEqual(
      b.excluded.map((r) => [r.rule, r.addresses]),
      [
        ["8.8.8.0/30 (optout.txt:1)", 4n],
        ["8.8.4.4 (optout.txt:2)", 1n],
      ],
    );
    // The same totals as the space itself.
    assert.equal(space.skipped.reserved, 256n);
    assert.equal(space.skipped.excluded, 5n);
  });
  const allow127 = () => parseReservedAllowance("127.0.0.0/8");
});

describe("target space fingerprint (trends)", () => {
  const fp = (text: string, ports = [6379], exclude = "") => {
    const into = emptyTargetInput();
    parseTargetText(text, into, "any-name.txt");
    const names = into.hostnames;
    const literal = { ...into, hostnames: [] };
    const space = buildTargetSpace(literal, ports, {
      allowReserved: false,
      exclude: parseExcludeText(exclude, "x"),
    });
    return targetSpaceFingerprint(space, names);
  };

  test("the same set written otherwise gives the same fingerprint; another set does not", () => {
    const a = fp("8.8.8.0/30\nredis.example.com\n1.1.1.1:6380\n");
    assert.equal(a, fp("1.1.1.1:6380 REDIS.example.com\n8.8.8.3\n8.8.8.0-8.8.8.2\n"));
    // An exclude that removes an address: another set. One that removes nothing: the same.
    assert.notEqual(a, fp("8.8.8.0/30\nredis.example.com\n1.1.1.1:6380\n", [6379], "8.8.8.1"));
    assert.equal(a, fp("8.8.8.0/30\nredis.example.com\n1.1.1.1:6380\n", [6379], "9.9.9.9"));
    assert.notEqual(a, fp("8.8.8.0/29\nredis.example.com\n1.1.1.1:6380\n"));
    assert.notEqual(a, fp("8.8.8.0/30\nredis.example.com\n1.1.1.1:6380\n", [6379, 6380]));
    assert.notEqual(a, fp("8.8.8.0/30\ncache.example.com\n1.1.1.1:6380\n"));
  });

  test("the cap is part of it: a capped scan is a sample", () => {
    const space = buildTargetSpace(input("8.8.8.0/24"), [6379], NO_OPTS);
    assert.notEqual(targetSpaceFingerprint(space, []), targetSpaceFingerprint(space, [], 10));
  });
});

describe("target walk", () => {
  test("shards partition the space; the cap stops the walk; countRest agrees with next()", () => {
    const space = buildTargetSpace(input("8.8.8.0/24"), [6379, 6380], NO_OPTS);
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const walk = new TargetWalk(space, { seed: 7n, shard: { index: i, count: 3 }, track: false });
      const count = new TargetWalk(space, { seed: 7n, shard: { index: i, count: 3 } }).countRest();
      let n = 0;
      for (let s = walk.next(); s; s = walk.next()) {
        seen.add(`${s.target.ip}:${s.target.port}`);
        n++;
      }
      assert.equal(n, count);
      assert.ok(walk.walked);
    }
    assert.equal(seen.size, 512);
    const capped = new TargetWalk(space, { seed: 7n, maxTargets: 5 });
    assert.equal(capped.countRest(), 5);
    let n = 0;
    while (capped.next()) n++;
    assert.equal(n, 5);
    assert.ok(!capped.walked);
  });
});
