/** What every importer checks a field with, and how it builds a record from a classification. */
import type { Classification, Exchange } from "../classify/exchange.js";
import { formatIp, parseIp } from "../net/ip.js";
import { NICER_ROW, type ProbeResult, type State } from "../schema/result.js";
import { MAX_ERROR_CHARS, safeText } from "../untrusted/text.js";

/** A line that cannot become a record; the message is the reason shown to the user. */
export class Unimportable extends Error {}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// ---------- field checks ----------

export function wrongType(path: string, expected: string): Unimportable {
  return new Unimportable(`${path}: expected ${expected}`);
}

/** An optional string field; null counts as absent. */
export function optString(o: Obj, key: string, path = key): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw wrongType(path, "a string");
  return v;
}

export function reqString(o: Obj, key: string, path = key): string {
  const v = optString(o, key, path);
  if (v === undefined) throw new Unimportable(`${path}: missing`);
  return v;
}

export function optObj(o: Obj, key: string, path = key): Obj | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw wrongType(path, "an object");
  return v;
}

export function canonicalIp(s: string, path: string): string {
  const ip = parseIp(s);
  if (ip === undefined) {
    throw new Unimportable(`${path}: not an IP address: ${JSON.stringify(safeText(s, 64))}`);
  }
  return formatIp(ip.family, ip.value);
}

export function checkPort(v: unknown, path: string): number {
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
export function isoTime(s: string, path: string): string {
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
export function resultOf(
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
export function verdict(state: State, detail: string, error: string): Classification {
  const c: Classification = { state, detail };
  const nicer = NICER_ROW[state];
  if (nicer !== undefined && state !== "open") c.nicer = nicer;
  if (error !== "") c.error = safeText(error, MAX_ERROR_CHARS);
  return c;
}

export function emptyExchange(): Exchange {
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
