/**
 * Indicators from one honeypot session: what an analyst feeds to blocklists and threat-intel
 * searches (URLs, addresses, domains, SSH keys, cron lines, file paths, module names, Lua
 * tokens, passwords tried). research/honeypot.md §2 gives the shapes looked for.
 *
 * Every argument is attacker text, possibly cut (RecordedCommand keeps a prefix), possibly
 * hostile. So: only linear-time patterns (each starts behind a look-behind that pins it to the
 * start of a run, and every repetition is bounded), a per-argument and a per-session budget of
 * characters searched, at most MAX_INDICATORS items a list, each at most MAX_INDICATOR_CHARS
 * and free of control characters (safeText escapes them), deduplicated, in order of first
 * appearance. Commands are read before effects, whose order relative to them is not recorded.
 */

import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import { peerAddress } from "../net/ip.js";
import type { Indicators } from "../schema/honeypot.js";
import { safeText } from "../untrusted/text.js";
import type { RecordedCommand, SessionEffect } from "./types.js";

export const MAX_INDICATORS = 100;
export const MAX_INDICATOR_CHARS = 512;
/**
 * Characters of one argument searched. Redis's own inline limit is 64 KiB, and every shape in
 * the research notes sits in the first few hundred bytes of its argument.
 */
export const MAX_SCAN_CHARS_PER_ARG = 64 * 1024;
/** Characters searched in one session, so 100,000 commands cost a bounded amount of work. */
export const MAX_SCAN_CHARS_PER_SESSION = 8 * 1024 * 1024;

/** What is left to search in one session; shared by every argument and every decoded payload. */
export class ScanBudget {
  constructor(private left = MAX_SCAN_CHARS_PER_SESSION) {}

  /** The part of `text` that may still be searched ("" once the budget is spent). */
  take(text: string): string {
    if (this.left <= 0) return "";
    const part =
      text.length > MAX_SCAN_CHARS_PER_ARG ? text.slice(0, MAX_SCAN_CHARS_PER_ARG) : text;
    const cut = part.length > this.left ? part.slice(0, this.left) : part;
    this.left -= cut.length;
    return cut;
  }
}

/** An argument's text as recorded, and whether it is only the head of what was sent. */
export function argumentText(cmd: RecordedCommand, i: number): { text: string; cut: boolean } {
  const text = cmd.args[i] ?? "";
  return { text, cut: text.length < (cmd.argLengths[i] ?? text.length) };
}

// ---------- payloads hidden in base64 ----------

/** A run of base64 long enough to hide a command (`echo <b64>|base64 -d|bash`, §2.1). */
const BASE64_RUN_RE = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{20,}={0,2}/g;
const MAX_BASE64_RUN = 16 * 1024;
const MAX_DECODED_PER_TEXT = 8;

/**
 * Text decoded from the plausible base64 runs in `text`, two levels deep (payloads are
 * sometimes encoded twice). Plausible: it decodes to printable text; SSH key blobs, hashes
 * and ordinary long words decode to binary and are dropped.
 */
export function decodedPayloads(text: string, depth = 2): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(BASE64_RUN_RE)) {
    const run = m[0].slice(0, MAX_BASE64_RUN);
    const decoded = Buffer.from(run.slice(0, run.length - (run.length % 4)), "base64");
    if (isPrintable(decoded)) {
      const inner = decoded.toString("latin1");
      out.push(inner);
      if (depth > 1) out.push(...decodedPayloads(inner, depth - 1));
    }
    if (out.length >= MAX_DECODED_PER_TEXT) break;
  }
  return out.slice(0, MAX_DECODED_PER_TEXT);
}

function isPrintable(bytes: Buffer): boolean {
  if (bytes.length < 8) return false;
  let printable = 0;
  let letters = 0;
  for (const b of bytes) {
    if ((b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d) printable++;
    if ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7a) letters++;
  }
  return printable >= bytes.length * 0.95 && letters > 0;
}

// ---------- URLs, addresses, domains ----------

/** Control characters, quotes, shell and Lua punctuation end a URL (`…/y.sh|sh`, `"…")`). */
const URL_RE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters end a URL
  /\b(?:https?|ftp|tftp):\/\/[^\s"'`<>|;\\(){}^\u0000-\u001f\u007f-\u009f]{1,2000}/gi;

function findUrls(text: string): string[] {
  return Array.from(text.matchAll(URL_RE), (m) => m[0].replace(/[.,:!?]+$/, ""));
}

/** The host of a URL found by findUrls: no user info, port or IPv6 brackets. */
function urlHost(url: string): string {
  const authority = url.slice(url.indexOf("://") + 3).split(/[/?#]/, 1)[0] ?? "";
  const hostPort = authority.slice(authority.lastIndexOf("@") + 1);
  if (hostPort.startsWith("[")) return hostPort.slice(1, Math.max(1, hostPort.indexOf("]")));
  return (hostPort.split(":", 1)[0] ?? "").toLowerCase();
}

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
/** Four dotted octets not inside a longer dotted or alphanumeric token (`v1.2.3.4`, `1.2.3.4.5`). */
const IPV4_RE = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?!\\w|\\.\\d)`, "g");
/** `version 1.2.3.4`: a four-part version number, not an address. */
const VERSION_BEFORE_RE = /(?:version|ver)[\s:=_-]{0,3}$/i;
/** A run of hex digits, colons and dots with at least two colons: an IPv6 candidate. */
const IPV6_RE = /(?<![\w:.])(?=[0-9a-f]{0,4}:[0-9a-f]{0,4}:)[0-9a-f:.]{2,45}(?![\w:])/gi;

export function findIpAddresses(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IPV4_RE)) {
    if (!VERSION_BEFORE_RE.test(text.slice(Math.max(0, m.index - 12), m.index))) out.push(m[0]);
  }
  for (const m of text.matchAll(IPV6_RE)) {
    const candidate = m[0].replace(/\.+$/, "");
    if (isPlausibleIpv6(candidate)) out.push(candidate.toLowerCase());
  }
  return out;
}

/**
 * A valid IPv6 address that is not a short accident of hex letters and colons (`a::b`, `d::`):
 * it needs a group of three or more digits, as every real address but `::` and `::1` has.
 */
function isPlausibleIpv6(s: string): boolean {
  if (!isIPv6(s)) return false;
  return s === "::1" || s.split(/[:.]/).some((group) => group.length >= 3);
}

export type AddressScope = "loopback" | "unspecified" | "private" | "link_local" | "public";

/**
 * Where an address points, for judging SLAVEOF targets: loopback and unspecified are the
 * honeypot itself, private and link-local are someone's internal network. Undefined for
 * names that are not addresses (except `localhost`).
 */
export function addressScope(host: string): AddressScope | undefined {
  const h = host.toLowerCase();
  if (h === "localhost") return "loopback";
  if (isIPv4(h)) {
    const [a = 0, b = 0] = h.split(".").map(Number);
    if (a === 127) return "loopback";
    if (a === 0) return "unspecified";
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
    if (a === 100 && b >= 64 && b <= 127) return "private";
    if (a === 169 && b === 254) return "link_local";
    return "public";
  }
  if (isIPv6(h)) {
    if (h === "::1") return "loopback";
    if (h === "::") return "unspecified";
    const plain = peerAddress(h);
    if (plain !== h) return addressScope(plain);
    if (/^f[cd]/.test(h)) return "private";
    if (/^fe[89ab]/.test(h)) return "link_local";
    return "public";
  }
  return undefined;
}

/** A dotted name whose last label is letters, not inside a path or a longer dotted token. */
const DOMAIN_RE =
  /(?<![\w./-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,24}(?![\w-]|\.[a-z0-9])/gi;

/**
 * Top-level domains accepted for a bare name outside a URL. Not every TLD: many are also file
 * extensions or Lua fields in the same payloads (`.sh`, `.so`, `.py`, `.pl`, `.rs`, `.md`,
 * `.id`, `.zip`, `.band`), so `b.sh`, `exp.so`, `user.id` stay names of files and fields.
 * Inside a URL any TLD counts (`https://transfer.sh/…`).
 */
const BARE_TLDS = new Set(
  (
    "com net org info biz name pro mobi asia edu gov mil int io co me cc tv ws pw to xyz top " +
    "site online club live tech store space fun icu cyou buzz work app dev cloud shop vip link " +
    "click host website win bid loan men party review trade download stream racing date " +
    "ru su ua by kz cn hk tw jp kr sg vn th my in ir pk tr il de fr nl be ch at it es pt uk eu " +
    "se no fi dk cz sk hu ro bg gr lt lv ee hr si us ca mx br ar cl pe au nz za ng ke eg ma " +
    "tk ml ga cf gq ly nu la onion"
  ).split(" "),
);

export function findDomains(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(DOMAIN_RE)) {
    const name = m[0].toLowerCase();
    if (BARE_TLDS.has(name.slice(name.lastIndexOf(".") + 1))) out.push(name);
  }
  return out;
}

/** A host name (SLAVEOF target, URL host) that is a DNS name rather than an address. */
function isHostName(host: string): boolean {
  return /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,16}[a-z][a-z0-9-]{0,62}$/i.test(host);
}

// ---------- SSH keys ----------

const SSH_KEY_RE =
  /(ssh-rsa|ssh-dss|ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)[ \t]+(AAAA[A-Za-z0-9+/]{8,16384}={0,3})([ \t]+[^\r\n]{1,256})?/g;

export function hasSshKey(text: string): boolean {
  return findSshKeys(text, false).length > 0;
}

/**
 * Public keys in `text`, each as `SHA256:<fingerprint> <type> <base64> [comment]` without the
 * surrounding newlines the attack wraps them in. The fingerprint is OpenSSH's (SHA-256 of the
 * blob, base64 without padding), so it matches `ssh-keygen -l` and stays an identifier when a
 * long key's text is cut to MAX_INDICATOR_CHARS. A blob that stops short exactly where a cut
 * argument ends (`cut`) is the head of a key: its fingerprint is written `SHA256:?`. One that
 * stops short anywhere else is not a key.
 */
export function findSshKeys(text: string, cut: boolean): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(SSH_KEY_RE)) {
    const type = m[1] ?? "";
    const blob = m[2] ?? "";
    const comment = (m[3] ?? "").trim();
    const bytes = Buffer.from(blob, "base64");
    const state = sshBlobState(bytes, type);
    const atCutEnd = cut && !m[3] && m.index + m[0].length === text.length;
    if (state === "invalid" || (state === "short" && !atCutEnd)) continue;
    const fingerprint =
      state === "short"
        ? "SHA256:?"
        : "SHA256:" + createHash("sha256").update(bytes).digest("base64").replace(/=+$/, "");
    out.push(`${fingerprint} ${type} ${blob}${comment ? " " + comment : ""}`);
  }
  return out;
}

/**
 * A key blob is a run of length-prefixed fields (RFC 4253) starting with its own type name:
 * "whole" when the fields end exactly at its end, "short" when the last runs past it (the text
 * was cut), "invalid" when it does not even start like a key (random base64 after `ssh-rsa`).
 */
function sshBlobState(blob: Buffer, type: string): "whole" | "short" | "invalid" {
  if (
    blob.length < 4 + type.length ||
    blob.readUInt32BE(0) !== type.length ||
    blob.toString("latin1", 4, 4 + type.length) !== type
  ) {
    return "invalid";
  }
  let at = 0;
  let fields = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return "short";
    at += 4 + blob.readUInt32BE(at);
    fields++;
  }
  return at === blob.length && fields >= 2 ? "whole" : "short";
}

// ---------- cron lines ----------

const CRON_SPECIAL_RE =
  /^@(?:reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)[ \t]+\S/i;
/** Five fields, then a command that starts like one (not a sixth number). */
const CRON_FIELDS_RE =
  /^(\S{1,64})[ \t]+(\S{1,64})[ \t]+(\S{1,64})[ \t]+(\S{1,64})[ \t]+(\S{1,64})[ \t]+[^\s\d*]/;
const CRON_PART_RE = /^(\*|[0-9a-z]{1,3}(?:-[0-9a-z]{1,3})?)(?:\/\d{1,2})?$/i;
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const CRON_FIELDS: ReadonlyArray<readonly [number, number, readonly string[]]> = [
  [0, 59, []],
  [0, 23, []],
  [1, 31, []],
  [1, 12, MONTHS],
  [0, 7, DAYS],
];

/** Crontab lines in `text` (`*\/1 * * * * curl …|sh`, `@reboot …`), trimmed. */
export function findCronLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    if (CRON_SPECIAL_RE.test(line)) {
      out.push(line);
      continue;
    }
    const m = CRON_FIELDS_RE.exec(line);
    if (m && CRON_FIELDS.every((spec, i) => isCronField(m[i + 1] ?? "", spec))) out.push(line);
  }
  return out;
}

function isCronField(
  field: string,
  [min, max, names]: readonly [number, number, readonly string[]],
): boolean {
  return field.split(",").every((part) => {
    const m = CRON_PART_RE.exec(part);
    if (!m?.[1]) return false;
    if (m[1] === "*") return true;
    return m[1]
      .split("-")
      .every((v) =>
        /^\d+$/.test(v) ? Number(v) >= min && Number(v) <= max : names.includes(v.toLowerCase()),
      );
  });
}

// ---------- file paths ----------

/**
 * Absolute (or `~/`) paths of two or more components. The look-behind keeps out the path part
 * of URLs (`host/a/b`, `http://`), slashes inside base64 (`+/`), and cron steps (`*\/1`).
 */
const PATH_RE = /(?<![\w.:/~\]+*-])~?(?:\/[\w.+@%-]{1,128}){2,32}\/?/g;

function findPaths(text: string): string[] {
  return Array.from(text.matchAll(PATH_RE), (m) => m[0].replace(/[.,]+$/, ""));
}

// ---------- Lua ----------

/** `package.loadlib` and `package["loadlib"]` alike: obfuscation does not hide the field. */
function field(table: string, name: string): RegExp {
  return new RegExp(`\\b${table}\\s*(?:\\.|\\[\\s*["'])\\s*${name}\\b`);
}

/** The tokens of §2.3, by the name they are reported under. */
const LUA_TOKENS: ReadonlyArray<readonly [string, RegExp]> = [
  ["package.loadlib", field("package", "loadlib")],
  ["luaopen_", /luaopen_/],
  ["io.popen", field("io", "popen")],
  ["os.execute", field("os", "execute")],
  ["collectgarbage", /\bcollectgarbage\b/],
  ["loadstring", /\bloadstring\b/],
  ["string.rep", /\bstring\s*\.\s*rep\b|:\s*rep\s*\(/],
  ["getmetatable", /\bgetmetatable\b/],
  ["debug.", /\bdebug\s*\./],
];
/** The Lua library CVE-2022-0543 loads, reported by its name up to `.so` (`liblua5.1.so`). */
const LIBLUA_RE = /liblua[\w.-]{0,16}?\.so/;
/** `unpack(t, -1, 2147483647)`: an argument list holding a number of 7+ digits (CVE-2025-46817). */
const HUGE_UNPACK_RE = /\bunpack\s*\([^()]{0,200}?\d{7}/;

/** Lua tokens of §2.3 in a script, in the order they first appear in it. */
export function findLuaTokens(script: string): string[] {
  const found: Array<[number, string]> = [];
  for (const [token, re] of LUA_TOKENS) {
    const at = script.search(re);
    if (at >= 0) found.push([at, token]);
  }
  const lib = LIBLUA_RE.exec(script);
  if (lib) found.push([lib.index, lib[0]]);
  const unpack = HUGE_UNPACK_RE.exec(script);
  if (unpack) found.push([unpack.index, "unpack("]);
  return found.sort((a, b) => a[0] - b[0]).map(([, token]) => token);
}

/** The script body of a command that carries Lua (EVAL, SCRIPT LOAD, FUNCTION LOAD). */
export function scriptBody(name: string, args: readonly string[]): string | undefined {
  switch (name) {
    case "EVAL":
    case "EVAL_RO":
      return args[0];
    case "SCRIPT":
      return args[0]?.toUpperCase() === "LOAD" ? args[1] : undefined;
    case "FUNCTION":
      return args[0]?.toUpperCase() === "LOAD" ? args[args.length - 1] : undefined;
    default:
      return undefined;
  }
}

// ---------- commands ----------

/** The password of an AUTH (`AUTH p`, `AUTH user p`) or HELLO (`HELLO 3 AUTH user p`), if any. */
export function passwordTried(name: string, args: readonly string[]): string | undefined {
  if (name === "AUTH") return args.length >= 2 ? args[1] : args[0];
  if (name === "HELLO") {
    const at = args.findIndex((a, i) => i >= 1 && a.toUpperCase() === "AUTH");
    return at >= 0 ? args[at + 2] : undefined;
  }
  return undefined;
}

/** `CONFIG SET k v [k v …]` (several pairs since Redis 7) as [lower-case key, value] pairs. */
export function configSetPairs(name: string, args: readonly string[]): Array<[string, string]> {
  if (name !== "CONFIG" || args[0]?.toUpperCase() !== "SET") return [];
  const pairs: Array<[string, string]> = [];
  for (let i = 1; i + 1 < args.length; i += 2) {
    pairs.push([(args[i] ?? "").toLowerCase(), args[i + 1] ?? ""]);
  }
  return pairs;
}

/** The file a SAVE writes: `dir` joined with `dbfilename`. */
function savedPath(dir: string, dbfilename: string): string {
  return dir.endsWith("/") ? dir + dbfilename : `${dir}/${dbfilename}`;
}

/**
 * Module commands of Redis Stack (RedisJSON, RediSearch, …): dotted like `system.exec`, but
 * what a normal client of a real server sends, so not an indicator.
 */
const STACK_MODULE_PREFIXES = new Set([
  "json",
  "ft",
  "ts",
  "bf",
  "cf",
  "cms",
  "topk",
  "tdigest",
  "graph",
  "ai",
  "rg",
  "search",
]);

/** A dotted command from a module that is not part of Redis Stack (`system.exec`), lower-case. */
export function foreignModuleCommand(name: string): string | undefined {
  // Module commands are `module.command` identifiers; `1.2.3.4` or `a.b.c` sent as a name is not.
  if (!/^[a-z][\w-]{0,31}\.[a-z][\w-]{0,31}$/i.test(name)) return undefined;
  const lower = name.toLowerCase();
  return STACK_MODULE_PREFIXES.has(lower.slice(0, lower.indexOf("."))) ? undefined : lower;
}

// ---------- the session ----------

class IndicatorList {
  readonly items: string[] = [];
  private readonly seen = new Set<string>();

  add(value: string | undefined): void {
    if (value === undefined || this.items.length >= MAX_INDICATORS) return;
    const v = safeText(value, MAX_INDICATOR_CHARS);
    if (v === "" || this.seen.has(v)) return;
    this.seen.add(v);
    this.items.push(v);
  }
}

/**
 * A cut text up to its last whitespace: whatever touches the cut end is a fragment
 * (`http://h.exa`, `/var/spo`) and would be reported as an indicator that was never sent.
 */
function wholeWords(text: string): string {
  let end = text.length;
  while (end > 0 && !/\s/.test(text.charAt(end - 1))) end--;
  return text.slice(0, end);
}

class IndicatorCollector {
  constructor(private readonly budget: ScanBudget) {}

  readonly urls = new IndicatorList();
  readonly ips = new IndicatorList();
  readonly domains = new IndicatorList();
  readonly sshKeys = new IndicatorList();
  readonly cronLines = new IndicatorList();
  readonly filePaths = new IndicatorList();
  readonly modules = new IndicatorList();
  readonly luaTokens = new IndicatorList();
  readonly moduleCommands = new IndicatorList();
  readonly passwords = new IndicatorList();

  host(host: string): void {
    if (isIPv4(host) || isIPv6(host)) this.ips.add(host.toLowerCase());
    else if (isHostName(host)) this.domains.add(host.toLowerCase().replace(/\.$/, ""));
  }

  /**
   * Free text: an argument (`cut` if it is only a head), then the payloads decoded from it;
   * decodedPayloads already goes two levels deep, so decoded text is not decoded again.
   */
  text(text: string, cut: boolean, decoded = false): void {
    // Keys first, on the whole head: one running into the cut is still worth its type and text.
    for (const key of findSshKeys(text, cut)) this.sshKeys.add(key);
    const whole = cut ? wholeWords(text) : text;
    for (const url of findUrls(whole)) {
      this.urls.add(url);
      this.host(urlHost(url));
    }
    for (const ip of findIpAddresses(whole)) this.ips.add(ip);
    for (const name of findDomains(whole)) this.domains.add(name);
    // A cron line is whole only once its newline arrived.
    const lines = cut ? whole.slice(0, whole.search(/[\r\n][^\r\n]*$/) + 1) : whole;
    for (const line of findCronLines(lines)) this.cronLines.add(line);
    for (const path of findPaths(whole)) this.filePaths.add(path);
    if (decoded) return;
    for (const inner of decodedPayloads(whole)) this.text(this.budget.take(inner), false, true);
  }

  result(): Indicators {
    return {
      urls: this.urls.items,
      ips: this.ips.items,
      domains: this.domains.items,
      ssh_keys: this.sshKeys.items,
      cron_lines: this.cronLines.items,
      file_paths: this.filePaths.items,
      modules: this.modules.items,
      lua_tokens: this.luaTokens.items,
      module_commands: this.moduleCommands.items,
      passwords: this.passwords.items,
    };
  }
}

/** Argument texts remembered as already searched, per session. */
const MAX_REMEMBERED_TEXTS = 10_000;

export function extractIndicators(
  commands: readonly RecordedCommand[],
  effects: readonly SessionEffect[] = [],
): Indicators {
  const budget = new ScanBudget();
  const found = new IndicatorCollector(budget);
  const searchedTexts = new Set<string>();
  let dir: string | undefined;
  let dbfilename: string | undefined;

  for (const cmd of commands) {
    const name = cmd.name.toUpperCase();
    const args = cmd.args;
    const password = passwordTried(name, args);
    if (password !== undefined) {
      // A password is not searched for URLs or addresses: `1.2.3.4` there is a guess, not a host.
      found.passwords.add(password);
      continue;
    }
    for (const [key, value] of configSetPairs(name, args)) {
      if (key === "dir") dir = value;
      else if (key === "dbfilename") dbfilename = value;
      else continue;
      found.filePaths.add(value);
      if (key === "dbfilename" && /\.so$/i.test(value)) found.modules.add(value);
    }
    if ((name === "SAVE" || name === "BGSAVE") && dir !== undefined && dbfilename !== undefined) {
      found.filePaths.add(savedPath(dir, dbfilename));
    }
    const sub = args[0]?.toUpperCase();
    if (name === "MODULE" && (sub === "LOAD" || sub === "LOADEX" || sub === "UNLOAD")) {
      found.modules.add(args[1]);
      if (sub !== "UNLOAD") found.filePaths.add(args[1]);
    }
    if ((name === "SLAVEOF" || name === "REPLICAOF") && args[0] && sub !== "NO") {
      found.host(args[0]);
    }
    const moduleCommand = foreignModuleCommand(name);
    if (moduleCommand !== undefined) {
      found.modules.add(moduleCommand);
      // What the attacker had the module run: the command line is the indicator.
      found.moduleCommands.add([moduleCommand, ...args].join(" "));
    }
    const script = scriptBody(name, args);
    if (script !== undefined) {
      for (const token of findLuaTokens(budget.take(script))) found.luaTokens.add(token);
    }
    for (let i = 0; i < args.length; i++) {
      const { text, cut } = argumentText(cmd, i);
      // The same text finds the same indicators: a flood of one value is searched once.
      const seenKey = cut ? `\u0000${text}` : text;
      if (searchedTexts.has(seenKey)) continue;
      if (searchedTexts.size < MAX_REMEMBERED_TEXTS) searchedTexts.add(seenKey);
      const searched = budget.take(text);
      if (searched === "") continue;
      found.text(searched, cut || searched.length < text.length);
    }
  }

  for (const effect of effects) {
    switch (effect.kind) {
      case "auth":
        found.passwords.add(effect.password);
        break;
      case "config_set":
        if (effect.key.toLowerCase() === "dir" || effect.key.toLowerCase() === "dbfilename") {
          found.filePaths.add(effect.value);
        }
        break;
      case "save":
        found.filePaths.add(savedPath(effect.dir, effect.dbfilename));
        break;
      case "replicaof":
        found.host(effect.host);
        break;
      case "module_load":
        found.modules.add(effect.path);
        found.filePaths.add(effect.path);
        // A captured payload it loaded: the name its binary gives it.
        if (effect.module !== undefined) found.modules.add(effect.module);
        break;
      case "script":
        // What a script built and handed io.popen (possibly nowhere literal in its text).
        if (effect.command !== undefined) {
          const searched = budget.take(effect.command);
          if (searched !== "") found.text(searched, searched.length < effect.command.length);
        }
        break;
      default:
        break;
    }
  }
  return found.result();
}
