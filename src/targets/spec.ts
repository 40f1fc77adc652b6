/**
 * What the user asked to scan, as written: command-line tokens, files and stdin, including the
 * output of zmap (one address a line, or its CSV) and masscan (-oL), so `zmap … | redscope scan -`
 * works. Parsing only: nothing here resolves names, applies the blocklist or decides the order.
 *
 * Accepted per token (files: per line, tokens separated by whitespace or commas, `#` comments):
 *   192.0.2.1  2001:db8::1                  one address
 *   192.0.2.0/24  2001:db8::/64             CIDR (host bits set are cleared, as zmap does)
 *   192.0.2.1-192.0.2.9  192.0.2.1-9        inclusive range (the short form ends the last octet)
 *   2001:db8::1-2001:db8::ff                IPv6 range
 *   192.0.2.1:6380  [2001:db8::1]:6380      one (address, port) pair; [v6] alone is an address
 *   redis.example.com  cache:6380           hostname (RFC 1123), optionally with a port
 * An unbracketed IPv6 address never carries a port: "2001:db8::1:6379" is one address.
 *
 * In a text, a CSV header line naming a `saddr` column (zmap `-O csv`) or an `ip` column switches
 * the following lines of that text to CSV rows: that column is the address, and a `sport` column
 * (after `saddr`) or `port` column (after `ip`), when present and filled, makes the row a pair.
 * masscan `-oL` lines ("open tcp 6379 192.0.2.1 1700000000") become pairs; lines for closed
 * ports or other protocols are skipped; its "#masscan" / "# end" lines are comments.
 */

import {
  cidrRange,
  endpointText,
  familyBits,
  type IpFamily,
  parseIp,
  parseIpv4,
} from "../net/ip.js";
import { quote, TargetSpecError } from "./errors.js";
import { parsePort } from "./ports.js";

/** Inclusive address range. `source` names the target in messages: the token as written, with
 * its location when it came from a file ("10.0.0.0/8 (targets.txt:12)"). */
export interface AddressRange {
  family: IpFamily;
  start: bigint;
  end: bigint;
  source: string;
}

export interface TargetPair {
  family: IpFamily;
  ip: bigint;
  port: number;
  source: string;
}

export interface TargetHostname {
  /** Lower case, as validated (RFC 1123). */
  name: string;
  /** Set when the token named a port ("cache.example.com:6380"): resolve into pairs. */
  port?: number;
  source: string;
}

/**
 * Parsed targets. Hostnames are resolved by the caller, which adds one range (or one pair when
 * `port` is set) per resolved address, with a source such as "cache.example.com (192.0.2.7)".
 */
export interface TargetInput {
  ranges: AddressRange[];
  pairs: TargetPair[];
  hostnames: TargetHostname[];
}

export function emptyTargetInput(): TargetInput {
  return { ranges: [], pairs: [], hostnames: [] };
}

/** Why a dotted string is not a strict IPv4 address (for messages). */
function ipv4Problem(s: string): string {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^[0-9]+$/.test(p))) {
    return "expected four decimal octets like 192.0.2.1";
  }
  for (const p of parts) {
    if (p.length > 1 && p.startsWith("0")) {
      return `octet ${quote(p)} has a leading zero (ambiguous: octal to some tools)`;
    }
    if (Number(p) > 255) return `octet ${p} is above 255`;
  }
  return "expected four decimal octets like 192.0.2.1";
}

function addressProblem(s: string): string {
  if (s.includes("%")) return "zone ids (%) are not allowed in scan targets";
  if (s.includes(":")) return "not a valid IPv6 address";
  if (/^[0-9.]+$/.test(s)) return ipv4Problem(s);
  return "not an IP address";
}

/** Strict single address (either family) or a TargetSpecError naming `what` and the token. */
function requireIp(text: string, what: string, token: string): { family: IpFamily; value: bigint } {
  const ip = parseIp(text);
  if (ip === undefined) {
    const detail =
      text === token ? addressProblem(text) : `${quote(text)}: ${addressProblem(text)}`;
    throw new TargetSpecError(`invalid ${what} ${quote(token)}: ${detail}`);
  }
  return ip;
}

/**
 * An address, CIDR or range token → inclusive range; undefined when the token is none of these
 * (no "/", not an address, and no address before a "-"). Throws TargetSpecError (no location)
 * when it is one of them but malformed.
 */
export function parseAddressRange(
  token: string,
): { family: IpFamily; start: bigint; end: bigint } | undefined {
  const slash = token.indexOf("/");
  if (slash >= 0) {
    const ip = requireIp(token.slice(0, slash), "CIDR", token);
    const bits = familyBits(ip.family);
    const len = token.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(len) || Number(len) > bits) {
      throw new TargetSpecError(
        `invalid CIDR ${quote(token)}: prefix length must be 0-${bits} for IPv${ip.family}`,
      );
    }
    return { family: ip.family, ...cidrRange(ip.family, ip.value, Number(len)) };
  }
  const single = parseIp(token);
  if (single !== undefined)
    return { family: single.family, start: single.value, end: single.value };
  const dash = token.indexOf("-");
  if (dash < 0) return undefined;
  const first = parseIp(token.slice(0, dash));
  if (first === undefined) return undefined;
  const rest = token.slice(dash + 1);
  let end: bigint;
  if (first.family === 4 && /^[0-9]{1,3}$/.test(rest)) {
    // Short form 10.0.0.1-20: the range ends at that last octet.
    const octet = Number(rest);
    if (octet > 255 || (rest.length > 1 && rest.startsWith("0"))) {
      throw new TargetSpecError(
        `invalid range ${quote(token)}: last octet ${quote(rest)} must be 0-255 without leading zeros`,
      );
    }
    end = (first.value & ~0xffn) | BigInt(octet);
  } else {
    const last = parseIp(rest);
    if (last === undefined) {
      throw new TargetSpecError(
        `invalid range ${quote(token)}: ${quote(rest)} is not an IP address` +
          (first.family === 4 ? " or a last octet" : ""),
      );
    }
    if (last.family !== first.family) {
      throw new TargetSpecError(
        `invalid range ${quote(token)}: both ends must be IPv${first.family}`,
      );
    }
    end = last.value;
  }
  if (end < first.value) {
    throw new TargetSpecError(`invalid range ${quote(token)}: the start is after the end`);
  }
  return { family: first.family, start: first.value, end };
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Endings of file names that are no top-level domain: a token like `results.json` or
 * `hosts.txt` is a file named where a target was expected (`-oJ x.json` misread, `-iL` left
 * out), never a name to send to a resolver.
 */
const FILE_NAME =
  /\.(?:jsonl?|ndjson|txt|csv|tsv|xml|gnmap|nmap|gz|bz2|xz|zst|log|lst|out|conf|cfg|ya?ml|db|sqlite3?)$/;

/** Why `name` is not an RFC 1123 hostname, or undefined when it is one. */
export function hostnameProblem(name: string): string | undefined {
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  if (bare.length === 0) return "empty name";
  if (FILE_NAME.test(bare)) {
    return `it looks like a file name: read targets from a file with -iL ${bare}, write results with -o ${bare}`;
  }
  if (bare.length > 253) return "longer than 253 characters";
  const labels = bare.split(".");
  for (const label of labels) {
    if (label === "") return "empty label (two dots in a row)";
    if (label.length > 63) return `label ${quote(label)} is longer than 63 characters`;
    if (!LABEL.test(label)) {
      return /^[a-z0-9-]+$/.test(label)
        ? `label ${quote(label)} starts or ends with "-"`
        : `label ${quote(label)} may contain only letters, digits and "-"`;
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) {
    return "the last label is all digits (not an IP address either)";
  }
  return undefined;
}

function located(where: string, message: string): TargetSpecError {
  return new TargetSpecError(where === "" ? message : `${where}: ${message}`);
}

/** "1.2.3.4:6379" or "[2001:db8::1]:6379", for pair sources. */
function pairText(address: string, _family: IpFamily, port: number): string {
  return endpointText(address, port);
}

function sourceOf(token: string, where: string): string {
  return where === "" ? token : `${token} (${where})`;
}

function parseTokenUnlocated(token: string, into: TargetInput, source: string): void {
  // [v6] or [v6]:port
  if (token.startsWith("[")) {
    const close = token.indexOf("]");
    if (close < 0) throw new TargetSpecError(`invalid target ${quote(token)}: missing "]"`);
    const inner = token.slice(1, close);
    const after = token.slice(close + 1);
    const ip = parseIp(inner);
    if (ip === undefined || ip.family !== 6) {
      throw new TargetSpecError(
        `invalid target ${quote(token)}: ${quote(inner)} in brackets must be an IPv6 address`,
      );
    }
    if (after === "") {
      into.ranges.push({ family: 6, start: ip.value, end: ip.value, source });
      return;
    }
    if (!after.startsWith(":")) {
      throw new TargetSpecError(`invalid target ${quote(token)}: expected ":port" after "]"`);
    }
    into.pairs.push({ family: 6, ip: ip.value, port: parsePort(after.slice(1)), source });
    return;
  }

  const range = parseAddressRange(token);
  if (range !== undefined) {
    into.ranges.push({ ...range, source });
    return;
  }

  if (token.includes("%")) {
    throw new TargetSpecError(`invalid target ${quote(token)}: ${addressProblem(token)}`);
  }
  const colon = token.indexOf(":");
  if (colon >= 0) {
    if (token.indexOf(":", colon + 1) >= 0) {
      throw new TargetSpecError(
        `invalid IPv6 address ${quote(token)}: ${addressProblem(token)} (write [v6]:port for a port)`,
      );
    }
    const host = token.slice(0, colon);
    const port = parsePort(token.slice(colon + 1));
    const v4 = parseIpv4(host);
    if (v4 !== undefined) {
      into.pairs.push({ family: 4, ip: BigInt(v4), port, source });
      return;
    }
    if (/^[0-9.]+$/.test(host)) {
      throw new TargetSpecError(`invalid IPv4 address ${quote(host)}: ${ipv4Problem(host)}`);
    }
    const problem = hostnameProblem(host.toLowerCase());
    if (problem !== undefined)
      throw new TargetSpecError(`invalid hostname ${quote(host)}: ${problem}`);
    into.hostnames.push({ name: host.toLowerCase(), port, source });
    return;
  }

  if (/^[0-9.]+$/.test(token)) {
    throw new TargetSpecError(`invalid IPv4 address ${quote(token)}: ${ipv4Problem(token)}`);
  }
  const name = token.toLowerCase();
  const problem = hostnameProblem(name);
  if (problem !== undefined) {
    throw new TargetSpecError(
      `invalid target ${quote(token)}: not an IP address, CIDR, range or hostname (${problem})`,
    );
  }
  into.hostnames.push({ name, source });
}

/**
 * One target token (a command-line argument, or one token of a line) into `into`. `where` is the
 * location for messages: "" for the command line, "targets.txt:12" for a file line. Throws
 * TargetSpecError with a one-line message naming the token and the reason.
 */
export function parseTargetToken(token: string, into: TargetInput, where = ""): void {
  const t = token.trim();
  if (t === "") throw located(where, "empty target");
  try {
    parseTokenUnlocated(t, into, sourceOf(t, where));
  } catch (e) {
    if (e instanceof TargetSpecError && where !== "") throw located(where, e.message);
    throw e;
  }
}

interface CsvLayout {
  addressColumn: number;
  addressName: string;
  portColumn: number; // -1: none
  portName: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A zmap-style CSV header (field names, one of them saddr or ip), or undefined. */
function csvHeader(line: string): CsvLayout | undefined {
  const names = line.split(",").map((f) => f.trim().toLowerCase());
  if (!names.every((n) => IDENTIFIER.test(n))) return undefined;
  let addressColumn = names.indexOf("saddr");
  let portName = "sport";
  if (addressColumn < 0) {
    // A lone "ip" line is more likely a host called ip than a one-column CSV.
    if (names.length < 2) return undefined;
    addressColumn = names.indexOf("ip");
    portName = "port";
  }
  if (addressColumn < 0) return undefined;
  return {
    addressColumn,
    addressName: names[addressColumn]!,
    portColumn: names.indexOf(portName),
    portName,
  };
}

function parseCsvRow(line: string, csv: CsvLayout, into: TargetInput, where: string): void {
  const fields = line.split(",");
  const address = fields[csv.addressColumn]?.trim() ?? "";
  if (address === "") {
    throw located(where, `CSV row has no value in column ${quote(csv.addressName)}`);
  }
  const ip = parseIp(address);
  if (ip === undefined) {
    throw located(
      where,
      `invalid address ${quote(address)} in column ${quote(csv.addressName)}: ${addressProblem(address)}`,
    );
  }
  const portText = csv.portColumn >= 0 ? (fields[csv.portColumn]?.trim() ?? "") : "";
  if (portText === "") {
    into.ranges.push({
      family: ip.family,
      start: ip.value,
      end: ip.value,
      source: `${address} (${where})`,
    });
    return;
  }
  let port: number;
  try {
    port = parsePort(portText);
  } catch (e) {
    throw e instanceof TargetSpecError
      ? located(where, `column ${quote(csv.portName)}: ${e.message}`)
      : e;
  }
  into.pairs.push({
    family: ip.family,
    ip: ip.value,
    port,
    source: `${pairText(address, ip.family, port)} (${where})`,
  });
}

const MASSCAN_STATUS = new Set(["open", "closed", "banner"]);
const MASSCAN_PROTO = new Set(["tcp", "udp", "sctp", "icmp"]);

/** masscan -oL: "<open|closed|banner> <proto> <port> <ip> <timestamp> [banner…]". */
function parseMasscanLine(fields: string[], into: TargetInput, where: string): boolean {
  const [status, proto, portText, address] = fields;
  if (status === undefined || proto === undefined || !MASSCAN_STATUS.has(status)) return false;
  if (!MASSCAN_PROTO.has(proto) || portText === undefined || !/^[0-9]+$/.test(portText)) {
    return false;
  }
  if (address === undefined)
    throw located(where, `masscan line has no address: ${quote(fields.join(" "))}`);
  const ip = parseIp(address);
  if (ip === undefined) {
    throw located(
      where,
      `invalid address ${quote(address)} in masscan line: ${addressProblem(address)}`,
    );
  }
  if (status === "closed" || proto !== "tcp") return true; // not a Redis target
  let port: number;
  try {
    port = parsePort(portText);
  } catch (e) {
    throw e instanceof TargetSpecError ? located(where, e.message) : e;
  }
  into.pairs.push({
    family: ip.family,
    ip: ip.value,
    port,
    source: `${pairText(address, ip.family, port)} (${where})`,
  });
  return true;
}

/**
 * Lines of one file or stream, in order: remembers a zmap CSV header across lines. Used whole by
 * parseTargetText and line by line by streaming input (`scan --stream`).
 */
export class TargetLineParser {
  private csv: CsvLayout | undefined;

  constructor(private readonly sourceName: string) {}

  /** One line (1-based `lineNo`) into `into`; throws TargetSpecError naming the line. */
  line(raw: string, lineNo: number, into: TargetInput): void {
    const where = `${this.sourceName}:${lineNo}`;
    let line = raw;
    const hash = line.indexOf("#");
    if (hash >= 0) line = line.slice(0, hash);
    line = line.trim();
    if (line === "") return;
    const header = csvHeader(line);
    if (header !== undefined) {
      this.csv = header;
      return;
    }
    if (this.csv !== undefined) {
      parseCsvRow(line, this.csv, into, where);
      return;
    }
    const fields = line.split(/[\s,]+/).filter((f) => f !== "");
    if (parseMasscanLine(fields, into, where)) return;
    for (const field of fields) parseTargetToken(field, into, where);
  }
}

/**
 * A whole file or stdin (its text) into `into`, line by line; `sourceName` is used in messages
 * with the line number ("targets.txt:12: invalid CIDR …"). See the module comment for formats.
 */
export function parseTargetText(text: string, into: TargetInput, sourceName: string): void {
  const parser = new TargetLineParser(sourceName);
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) parser.line(lines[i]!, i + 1, into);
}
