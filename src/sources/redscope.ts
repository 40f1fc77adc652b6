/** Our own JSONL read back: checked field by field, as the file may have been edited. */

import { type ProbeResult, STATES, type State, unresolvedName } from "../schema/result.js";
import { hostnameProblem } from "../targets/spec.js";
import { MAX_ERROR_CHARS, safeText } from "../untrusted/text.js";
import {
  canonicalIp,
  checkPort,
  isObj,
  isoTime,
  type Obj,
  optObj,
  optString,
  reqString,
  Unimportable,
  wrongType,
} from "./fields.js";

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
export function fromRedscope(v: Obj): ProbeResult {
  const ipText = reqString(v, "ip");
  // A name without an address (schema/result.ts, unresolvedIp) comes back as it was written.
  const name = unresolvedName(ipText);
  const ip =
    name !== undefined && hostnameProblem(name) === undefined ? ipText : canonicalIp(ipText, "ip");
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
  if (v.attempts !== undefined && v.attempts !== null) {
    const n = v.attempts;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 100) {
      throw wrongType("attempts", "a whole number of connection attempts (1–100)");
    }
    r.attempts = n;
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
