/**
 * Importing results that researchers already have: our own JSONL, zgrab2's `redis` module output
 * and Shodan banners (`shodan download … product:redis`). Every record is classified with the
 * same taxonomy as a scan, so an imported row and a scanned row mean the same thing.
 *
 * Everything in these files was written, at some point, by a scanned server (or by whoever
 * handed the file over): lines are capped in length while reading (a longer line is reported,
 * never buffered), strings that reach a record go through safeText, and a line that does not
 * validate is reported with its line number while the lines around it are still imported.
 *
 * zgrab2 → our Exchange. zgrab2 sends PING, [AUTH], INFO, NONEXISTENT, [custom…], QUIT one at a
 * time and renders each reply as a string: `(Error: X)` is error reply X, `<null>` a null bulk,
 * `(Unexpected array)` an array, INFO's text a bulk string and anything else a status reply.
 * Its status says how the exchange ended:
 *   success                               replies, then the peer closed after QUIT
 *   connection-timeout / -refused         no connection: closed (refused) or timeout, from the
 *                                         dial error text (zgrab2 reports refusals as timeouts)
 *   io-timeout / connection-closed        replies so far, then EOF (closed by peer), a reset or a
 *                                         read timeout, from the error text; with no reply at all
 *                                         that is silent (or error/reset). A DENIED or max-clients
 *                                         reply to PING followed by EOF is how protected mode and
 *                                         busy servers look in zgrab2, and classify as such.
 *   handshake-error                       TLS handshake failed: error/tls_handshake (silent when it
 *                                         timed out)
 *   protocol-error, or unknown-error with
 *   zgrab2's decoder errors (invalid data,
 *   wrong type specifier, bad length)     no reply: not_redis/unknown; after replies: error/PROTOCOL
 *                                         (open/PROTOCOL when INFO was read)
 *   unknown-error / application-error     the replies decide; with none: error/unknown_error
 *   invalid-inputs / blocklisted-target   not probed: the line is reported, not imported
 * zgrab2's own INFO-derived fields (version, major, …) are ignored: INFO is parsed again here,
 * without zgrab2's 32-bit overflow to 0.
 *
 * Shodan → our Exchange. Shodan keeps banners only for servers that answered, so there are no
 * timeouts: `data` is the INFO text (a bulk reply to INFO) with Shodan's `# Keys` section
 * removed (key names are the victim's data, not facts of our schema), or error/status lines
 * (`-NOAUTH …`, `-DENIED …`, `-ERR …`) taken as replies, or something else, which is judged from
 * its first bytes like any other non-Redis answer. asn ("AS16509" → 16509), as_org (Shodan's
 * `isp`, else `org`), country and cloud are kept from the banner.
 */
import fs from "node:fs";
import { pipeline } from "node:stream";
import zlib from "node:zlib";
import { type Classification, classifyExchange, type Exchange } from "../classify/exchange.js";
import { MAX_ERROR_CHARS, safeText } from "../classify/text.js";
import type { RespValue } from "../resp/types.js";
import { NICER_ROW, type ProbeResult, STATES, type State } from "../schema/result.js";
import { formatIp, parseIp } from "../targets/ip.js";
import { splitLines } from "./lines.js";

export const IMPORT_FORMATS = ["redscope", "zgrab2", "shodan"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** Longest line accepted (bytes, without the newline); a Shodan banner with INFO and keys fits. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** zgrab2 writes no port unless its input named one: the module's default is assumed. */
export const DEFAULT_ZGRAB2_PORT = 6379;
/** Non-empty lines looked at to tell a file's format before giving up. */
const DETECT_LINES = 1000;

export interface ImportOptions {
  format: ImportFormat | "auto";
  /** Port for zgrab2 records that carry none (default 6379). */
  port?: number;
  /** Line cap in bytes (default MAX_LINE_BYTES). */
  maxLineBytes?: number;
}

/** One non-empty input line: a record, or why it was not imported (one line, safe to print). */
export interface ImportLine {
  line: number;
  record?: ProbeResult;
  error?: string;
}

/** A line that cannot become a record; the message is the reason shown to the user. */
class Unimportable extends Error {}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The file's bytes, gunzipped when it starts with the gzip magic (whatever its name). */
async function openInput(file: string): Promise<AsyncIterable<Buffer>> {
  const fh = await fs.promises.open(file, "r");
  let raw: fs.ReadStream;
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    raw = fh.createReadStream({ start: 0, highWaterMark: 1 << 16 });
    if (bytesRead < 2 || head[0] !== 0x1f || head[1] !== 0x8b) return raw;
  } catch (e) {
    await fh.close();
    throw e;
  }
  // pipeline: an error on either side ends both, and so does the reader stopping early.
  return pipeline(raw, zlib.createGunzip(), () => {});
}

// ---------- format detection ----------

function shapeOf(v: unknown): ImportFormat | undefined {
  if (!isObj(v)) return undefined;
  if (typeof v.data === "string" && ("ip_str" in v || "_shodan" in v || "port" in v)) {
    return "shodan";
  }
  if (isObj(v.data)) {
    for (const m of Object.values(v.data))
      if (isObj(m) && typeof m.status === "string") return "zgrab2";
  }
  if (typeof v.state === "string" && "ip" in v && "port" in v) return "redscope";
  return undefined;
}

/** The format a JSON line is in, by its shape; undefined when it is none of ours. */
export function detectFormat(line: string): ImportFormat | undefined {
  try {
    return shapeOf(JSON.parse(line));
  } catch {
    return undefined;
  }
}

/** The format of the first recognisable line among the first non-empty ones of a file. */
export async function detectFileFormat(
  file: string,
  maxLineBytes = MAX_LINE_BYTES,
): Promise<ImportFormat | undefined> {
  let seen = 0;
  for await (const l of splitLines(await openInput(file), maxLineBytes)) {
    if (l.text !== undefined && l.text.trim() === "") continue;
    const f = l.text === undefined ? undefined : detectFormat(l.text);
    if (f !== undefined || ++seen >= DETECT_LINES) return f;
  }
  return undefined;
}

// ---------- reading records ----------

/**
 * The records of one file, line by line. Empty lines are skipped; every other line yields a
 * record or an error. With `auto`, the first line of a known shape fixes the format.
 */
export async function* readImport(file: string, opts: ImportOptions): AsyncGenerator<ImportLine> {
  let format = opts.format === "auto" ? undefined : opts.format;
  const port = opts.port ?? DEFAULT_ZGRAB2_PORT;
  for await (const l of splitLines(await openInput(file), opts.maxLineBytes ?? MAX_LINE_BYTES)) {
    if (l.text === undefined) {
      yield { line: l.line, error: l.error ?? "unreadable line" };
      continue;
    }
    if (l.text.trim() === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(l.text);
    } catch (e) {
      yield { line: l.line, error: safeText(`bad JSON: ${(e as Error).message}`, 200) };
      continue;
    }
    format ??= shapeOf(v);
    let item: ImportLine;
    try {
      if (format === undefined) throw new Unimportable("not a redscope, zgrab2 or Shodan record");
      item = { line: l.line, record: toRecord(format, v, port) };
    } catch (e) {
      if (!(e instanceof Unimportable)) throw e;
      // A file given the wrong format fails on every line: say what it looks like instead.
      const looks = opts.format === "auto" ? undefined : shapeOf(v);
      const reason =
        looks !== undefined && looks !== format
          ? `not a ${format} record: it looks like ${looks}`
          : e.message;
      item = { line: l.line, error: safeText(reason, 200) };
    }
    yield item;
  }
}

function toRecord(format: ImportFormat, v: unknown, port: number): ProbeResult {
  if (!isObj(v)) throw new Unimportable("not a JSON object");
  switch (format) {
    case "redscope":
      return fromRedscope(v);
    case "zgrab2":
      return fromZgrab2(v, port);
    case "shodan":
      return fromShodan(v);
  }
}

// ---------- field checks ----------

function wrongType(path: string, expected: string): Unimportable {
  return new Unimportable(`${path}: expected ${expected}`);
}

/** An optional string field; null counts as absent. */
function optString(o: Obj, key: string, path = key): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw wrongType(path, "a string");
  return v;
}

function reqString(o: Obj, key: string, path = key): string {
  const v = optString(o, key, path);
  if (v === undefined) throw new Unimportable(`${path}: missing`);
  return v;
}

function optObj(o: Obj, key: string, path = key): Obj | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw wrongType(path, "an object");
  return v;
}

function canonicalIp(s: string, path: string): string {
  const ip = parseIp(s);
  if (ip === undefined) {
    throw new Unimportable(`${path}: not an IP address: ${JSON.stringify(safeText(s, 64))}`);
  }
  return formatIp(ip.family, ip.value);
}

function checkPort(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) {
    throw wrongType(path, "a port number 1-65535");
  }
  return v;
}

const ISO_TIME =
  /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|z|[+-]\d{2}:?\d{2})?$/;

/**
 * ISO 8601 → our `time` form (UTC, milliseconds). A time without zone is UTC: that is how Shodan
 * writes its timestamps. Other date spellings are refused rather than guessed.
 */
function isoTime(s: string, path: string): string {
  const m = s.length <= 40 ? ISO_TIME.exec(s) : null;
  let ms = Number.NaN;
  if (m) {
    let zone = m[3] ?? "Z";
    if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
    ms = Date.parse(`${m[1]}T${m[2]}${zone.toUpperCase()}`);
  }
  if (!Number.isFinite(ms)) {
    throw new Unimportable(`${path}: not an ISO 8601 time: ${JSON.stringify(safeText(s, 40))}`);
  }
  return new Date(ms).toISOString();
}

// ---------- building results ----------

/** The record for a classification, with the fields in the order the scanner writes them. */
function resultOf(
  ip: string,
  port: number,
  transport: "tcp" | "tls",
  time: string,
  c: Classification,
): ProbeResult {
  const r: ProbeResult = { ip, port, transport, time, state: c.state };
  if (c.nicer) r.nicer = c.nicer;
  if (c.detail) r.detail = c.detail;
  if (c.error) r.error = c.error;
  if (c.server && Object.keys(c.server).length > 0) r.server = c.server;
  return r;
}

/** A classification the Exchange cannot express (zgrab2 kept no bytes of the answer). */
function verdict(state: State, detail: string, error: string): Classification {
  const c: Classification = { state, detail };
  const nicer = NICER_ROW[state];
  if (nicer !== undefined && state !== "open") c.nicer = nicer;
  if (error !== "") c.error = safeText(error, MAX_ERROR_CHARS);
  return c;
}

// ---------- zgrab2 ----------

type Zgrab2Status =
  | "success"
  | "connection-refused"
  | "connection-timeout"
  | "connection-closed"
  | "handshake-error"
  | "io-timeout"
  | "protocol-error"
  | "application-error"
  | "post-tls-application-error"
  | "invalid-inputs"
  | "blocklisted-target"
  | "unknown-error";

const ZGRAB2_STATUSES: ReadonlySet<string> = new Set<Zgrab2Status>([
  "success",
  "connection-refused",
  "connection-timeout",
  "connection-closed",
  "handshake-error",
  "io-timeout",
  "protocol-error",
  "application-error",
  "post-tls-application-error",
  "invalid-inputs",
  "blocklisted-target",
  "unknown-error",
]);

/** zgrab2's RESP reader's own errors (modules/redis/types.go): the peer did not speak RESP. */
const ZGRAB2_DECODE_ERROR = /\b(invalid data|wrong type specifier|bad length)\b/i;
/** Custom commands replayed at most (a zgrab2 run sends a handful). */
const MAX_CUSTOM = 64;

/** The module's entry under `data`: `redis`, else the one entry that says protocol redis. */
function zgrab2Module(data: Obj): Obj {
  const named = data.redis;
  if (isObj(named)) return named;
  for (const m of Object.values(data)) if (isObj(m) && m.protocol === "redis") return m;
  throw new Unimportable("data: no redis module result");
}

/** One zgrab2 reply string back as the RESP value it was rendered from. */
function zgrab2Reply(cmd: string, text: string): RespValue {
  if (text.startsWith("(Error: ") && text.endsWith(")")) {
    return { type: "error", value: text.slice(8, -1) };
  }
  if (text === "<null>") return { type: "bulk", value: null };
  if (text === "(Unexpected array)") return { type: "array", value: [] };
  // INFO answers with a bulk string; PING, AUTH, QUIT and unknown commands with a status line.
  if (cmd === "INFO") return { type: "bulk", value: Buffer.from(text, "utf8") };
  return { type: "simple", value: text };
}

/** Connect-failure text → the errno our classifier reads (zgrab2 keeps only Go's message). */
function dialErrno(err: string): string {
  if (/refused/i.test(err)) return "ECONNREFUSED";
  if (/no route to host/i.test(err)) return "EHOSTUNREACH";
  if (/network is unreachable/i.test(err)) return "ENETUNREACH";
  if (/reset by peer/i.test(err)) return "ECONNRESET";
  if (/permission denied|not permitted/i.test(err)) return "EACCES";
  if (err === "" || /time(d)? ?out/i.test(err)) return "ETIMEDOUT";
  return err;
}

/** How the stream ended after the last reply, from Go's error text. */
function endOfStream(err: string, ex: Exchange): void {
  if (/\bEOF\b/.test(err)) ex.closedByPeer = true;
  else if (/reset by peer|broken pipe/i.test(err)) ex.reset = true;
  else ex.readTimedOut = true;
}

function fromZgrab2(v: Obj, defaultPort: number): ProbeResult {
  const data = optObj(v, "data");
  if (data === undefined) throw new Unimportable("data: missing");
  const mod = zgrab2Module(data);
  const status = reqString(mod, "status", "data.redis.status");
  if (!ZGRAB2_STATUSES.has(status)) {
    throw new Unimportable(`data.redis.status: unknown zgrab2 status ${JSON.stringify(status)}`);
  }
  if (status === "invalid-inputs" || status === "blocklisted-target") {
    throw new Unimportable(`zgrab2 status ${status}: the target was not probed`);
  }
  const domain = optString(v, "domain");
  const ipText = optString(v, "ip");
  if (ipText === undefined) {
    throw new Unimportable(
      domain === undefined ? "ip: missing" : "ip: missing (zgrab2 kept only the name)",
    );
  }
  const ip = canonicalIp(ipText, "ip");
  // Newer zgrab2 writes the port (on the module's entry, or top-level for CSV input).
  const portValue = mod.port ?? v.port;
  const port = portValue === undefined ? defaultPort : checkPort(portValue, "port");
  const time = isoTime(reqString(mod, "timestamp", "data.redis.timestamp"), "data.redis.timestamp");
  const err = optString(mod, "error", "data.redis.error") ?? "";
  const result = optObj(mod, "result", "data.redis.result");
  const transport = result?.tls != null ? "tls" : "tcp";

  const c = zgrab2Classification(status as Zgrab2Status, err, result);
  const r = resultOf(ip, port, transport, time, c);
  if (domain !== undefined && domain !== "") r.hostname = safeText(domain, 253);
  return r;
}

function zgrab2Classification(
  status: Zgrab2Status,
  err: string,
  result: Obj | undefined,
): Classification {
  if (status === "connection-timeout" || status === "connection-refused") {
    const c = classifyExchange({
      ...emptyExchange(),
      connectError: status === "connection-refused" ? "ECONNREFUSED" : dialErrno(err),
    });
    if (err !== "") c.error = safeText(err, MAX_ERROR_CHARS);
    return c;
  }
  const ex = emptyExchange();
  const steps = result === undefined ? [] : zgrab2Steps(result, status === "success");
  ex.sent = steps.map((s) => s.cmd);
  for (const s of steps) if (s.text !== undefined) ex.replies.push(zgrab2Reply(s.cmd, s.text));
  ex.bytesReceived = steps.reduce((n, s) => n + (s.text?.length ?? 0), 0);

  switch (status) {
    case "success":
      ex.closedByPeer = true;
      break;
    case "connection-closed":
      ex.closedByPeer = true;
      break;
    case "io-timeout":
      endOfStream(err, ex);
      break;
    case "handshake-error":
      ex.tlsError = err === "" ? "handshake failed" : err;
      if (/time(d)? ?out/i.test(err)) ex.readTimedOut = true;
      break;
    default:
      if (status === "protocol-error" || ZGRAB2_DECODE_ERROR.test(err)) {
        // zgrab2 kept none of the offending bytes: no offset to report, only its message.
        if (ex.replies.length === 0) return verdict("not_redis", "unknown", err);
        ex.protocolError = { code: "invalid_type", offset: 0 };
      } else if (ex.replies.length === 0) {
        return verdict("error", "unknown_error", err);
      }
  }
  const c = classifyExchange(ex);
  if (c.detail === "PROTOCOL" && err !== "") c.error = safeText(err, MAX_ERROR_CHARS);
  return c;
}

function emptyExchange(): Exchange {
  return {
    sent: [],
    replies: [],
    head: Buffer.alloc(0),
    bytesReceived: 0,
    closedByPeer: false,
    reset: false,
    readTimedOut: false,
  };
}

interface Zgrab2Step {
  cmd: string;
  text?: string;
}

/**
 * The commands zgrab2 sent, in order, with the reply each got. zgrab2 omits empty strings from
 * its JSON, so a missing reply before a present one (or any, after `success`) was an empty
 * status line; after the last present one, the exchange had stopped.
 */
function zgrab2Steps(result: Obj, complete: boolean): Zgrab2Step[] {
  const steps: Zgrab2Step[] = [];
  const add = (cmd: string, key: string): void => {
    const text = optString(result, key, `data.redis.result.${key}`);
    steps.push(text === undefined ? { cmd } : { cmd, text });
  };
  add("PING", "ping_response");
  if (result.auth_response !== undefined) add("AUTH", "auth_response");
  add("INFO", "info_response");
  add("NONEXISTENT", "nonexistent_response");
  const custom = result.custom_responses;
  if (custom !== undefined && custom !== null) {
    if (!Array.isArray(custom)) throw wrongType("data.redis.result.custom_responses", "an array");
    for (const [i, c] of custom.slice(0, MAX_CUSTOM).entries()) {
      const path = `data.redis.result.custom_responses[${i}]`;
      if (!isObj(c)) throw wrongType(path, "an object");
      const cmd = optString(c, "command", `${path}.command`) ?? "CUSTOM";
      const text = optString(c, "response", `${path}.response`);
      steps.push(text === undefined ? { cmd } : { cmd, text });
    }
  }
  add("QUIT", "quit_response");
  let last = complete ? steps.length - 1 : -1;
  if (!complete) for (const [i, s] of steps.entries()) if (s.text !== undefined) last = i;
  for (let i = 0; i <= last; i++) steps[i]!.text ??= "";
  // The command after the last reply was sent too: its reply is what failed.
  return steps.slice(0, Math.min(steps.length, last + 2));
}

// ---------- Shodan ----------

/** Error / status lines taken from a banner at most. */
const MAX_BANNER_LINES = 16;

/**
 * Shodan appends the key names as a `# Keys` section, ended by a blank line or the banner's end.
 * Lazy, with one fixed alternative after it: linear in the banner's length.
 */
const KEYS_SECTION = /(^|\n)# Keys\r?\n[\s\S]*?(?:\r?\n\r?\n|$)/;

/** The banner as what a server said in answer to INFO. */
function shodanExchange(data: string): Exchange {
  const ex = emptyExchange();
  ex.sent = ["INFO"];
  // Shodan only keeps answers: the exchange ended with the server's reply, not a timeout.
  ex.closedByPeer = true;
  const text = data.replace(/^\$\d+\r?\n/, "").replace(KEYS_SECTION, "$1");
  ex.bytesReceived = text.length;
  const first = text[0];
  if (first === "-" || first === "+") {
    for (const line of text.split(/\r?\n/, MAX_BANNER_LINES)) {
      if (line.startsWith("-")) ex.replies.push({ type: "error", value: line.slice(1) });
      else if (line.startsWith("+")) ex.replies.push({ type: "simple", value: line.slice(1) });
      else break;
    }
  } else if (first === "#" || /^[a-z_]+:/.test(text.slice(0, 64))) {
    ex.replies.push({ type: "bulk", value: Buffer.from(text, "utf8") });
  } else {
    ex.head = Buffer.from(text.slice(0, 512), "utf8").subarray(0, 512);
  }
  return ex;
}

function fromShodan(v: Obj): ProbeResult {
  let ip: string;
  const ipStr = optString(v, "ip_str") ?? optString(v, "ipv6");
  if (ipStr !== undefined) ip = canonicalIp(ipStr, "ip_str");
  else if (typeof v.ip === "number" && Number.isInteger(v.ip) && v.ip >= 0 && v.ip <= 0xffffffff) {
    ip = formatIp(4, BigInt(v.ip));
  } else throw new Unimportable("ip_str: missing");
  const port = checkPort(v.port, "port");
  const transport = optString(v, "transport") ?? "tcp";
  if (transport !== "tcp") {
    throw new Unimportable(
      `transport ${JSON.stringify(safeText(transport, 16))}: not a Redis probe`,
    );
  }
  const time = isoTime(reqString(v, "timestamp"), "timestamp");
  const data = reqString(v, "data");
  const tls = optObj(v, "ssl") !== undefined;

  const r = resultOf(ip, port, tls ? "tls" : "tcp", time, classifyExchange(shodanExchange(data)));
  const asn = optString(v, "asn");
  if (asn !== undefined) {
    const m = /^AS(\d{1,10})$/i.exec(asn.trim());
    const n = m ? Number(m[1]) : Number.NaN;
    if (!(n >= 0 && n <= 0xffffffff)) throw wrongType("asn", 'an AS number like "AS16509"');
    r.asn = n;
  }
  const asOrg = optString(v, "isp") ?? optString(v, "org");
  if (asOrg !== undefined && asOrg.trim() !== "") r.as_org = safeText(asOrg.trim(), 256);
  const location = optObj(v, "location");
  const country = location && optString(location, "country_code", "location.country_code");
  if (country !== undefined && country !== "") r.country = safeText(country, 8);
  const cloud = optObj(v, "cloud");
  const provider = cloud && optString(cloud, "provider", "cloud.provider");
  if (cloud !== undefined && provider !== undefined && provider !== "") {
    r.cloud = { provider: safeText(provider, 128) };
    const region = optString(cloud, "region", "cloud.region");
    const service = optString(cloud, "service", "cloud.service");
    if (region) r.cloud.region = safeText(region, 128);
    if (service) r.cloud.service = safeText(service, 128);
  }
  return r;
}

// ---------- our own JSONL ----------

/** Longest string kept anywhere in a record besides `error` (our paths are at most 512). */
const MAX_FIELD_CHARS = 1024;
/** Nesting deeper than any record we write. */
const MAX_DEPTH = 8;
const STATE_SET: ReadonlySet<string> = new Set(STATES);

/**
 * A record of ours, checked field by field. Known fields of the wrong type make the line
 * malformed; unknown fields are dropped (the schema is the contract), and so are scan_id and
 * shard (they name the run that produced it; the import is a scan of its own). Strings are
 * passed through safeText again: a no-op on what we wrote, a guard against an edited file.
 */
function fromRedscope(v: Obj): ProbeResult {
  const ip = canonicalIp(reqString(v, "ip"), "ip");
  const port = checkPort(v.port, "port");
  const transport = reqString(v, "transport");
  if (transport !== "tcp" && transport !== "tls") throw wrongType("transport", '"tcp" or "tls"');
  const time = isoTime(reqString(v, "time"), "time");
  const state = reqString(v, "state");
  if (!STATE_SET.has(state))
    throw new Unimportable(`state: unknown state ${JSON.stringify(safeText(state, 32))}`);
  const r: ProbeResult = { ip, port, transport, time, state: state as State };

  for (const key of ["nicer", "detail", "hostname", "as_org", "country"] as const) {
    const s = optString(v, key);
    if (s !== undefined) r[key] = safeText(s, MAX_FIELD_CHARS);
  }
  const error = optString(v, "error");
  if (error !== undefined) r.error = safeText(error, MAX_ERROR_CHARS);
  const server = optObj(v, "server");
  if (server !== undefined) r.server = cleanJson(server, "server", 1) as ProbeResult["server"];
  const tls = optObj(v, "tls");
  if (tls !== undefined) r.tls = cleanJson(tls, "tls", 1) as ProbeResult["tls"];
  if (v.rtt_ms !== undefined && v.rtt_ms !== null) {
    if (typeof v.rtt_ms !== "number" || !(v.rtt_ms >= 0)) throw wrongType("rtt_ms", "a number ≥ 0");
    r.rtt_ms = v.rtt_ms;
  }
  if (v.asn !== undefined && v.asn !== null) {
    if (typeof v.asn !== "number" || !Number.isInteger(v.asn) || v.asn < 0 || v.asn > 0xffffffff) {
      throw wrongType("asn", "an AS number");
    }
    r.asn = v.asn;
  }
  const cloud = optObj(v, "cloud");
  if (cloud !== undefined) {
    const provider = reqString(cloud, "provider", "cloud.provider");
    r.cloud = {
      ...(cleanJson(cloud, "cloud", 1) as Obj),
      provider: safeText(provider, MAX_FIELD_CHARS),
    };
  }
  if (v.cves !== undefined && v.cves !== null) {
    if (!Array.isArray(v.cves)) throw wrongType("cves", "an array");
    r.cves = v.cves.map((c, i) => {
      if (!isObj(c)) throw wrongType(`cves[${i}]`, "an object");
      const id = reqString(c, "id", `cves[${i}].id`);
      return { ...(cleanJson(c, `cves[${i}]`, 2) as Obj), id: safeText(id, MAX_FIELD_CHARS) };
    });
  }
  return r;
}

/** A JSON value with every string (and key) made safe and nulls dropped. */
function cleanJson(v: unknown, path: string, depth: number): unknown {
  if (typeof v === "string") return safeText(v, MAX_FIELD_CHARS);
  if (typeof v !== "object" || v === null) return v;
  if (depth > MAX_DEPTH) throw new Unimportable(`${path}: nested too deeply`);
  if (Array.isArray(v))
    return v.filter((x) => x !== null).map((x) => cleanJson(x, path, depth + 1));
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (x !== null) out[safeText(k, 128)] = cleanJson(x, `${path}.${k}`, depth + 1);
  }
  return out;
}
