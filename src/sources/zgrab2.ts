/**
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
 * A target given to zgrab2 as a name is written with `domain` and, unless zgrab2 was asked to,
 * no `ip` (its own testdata is all like that). Nothing is resolved here: the address comes from
 * the user's --resolve file, else the record keeps the name and no address (schema/result.ts,
 * unresolvedIp). zgrab2's `--mappings` (commands renamed on the client side) is not written in
 * its output: the replies are filed under the commands' own names, and the error texts (which
 * name RENAMED-INFO, not INFO) say the rest.
 */
import { type Classification, classifyExchange, type Exchange } from "../classify/exchange.js";
import type { RespValue } from "../resp/types.js";
import { type ProbeResult, unresolvedIp } from "../schema/result.js";
import { hostnameProblem } from "../targets/spec.js";
import { MAX_ERROR_CHARS, safeText } from "../untrusted/text.js";
import {
  canonicalIp,
  checkPort,
  emptyExchange,
  isObj,
  isoTime,
  type Obj,
  optObj,
  optString,
  reqString,
  resultOf,
  Unimportable,
  verdict,
  wrongType,
} from "./fields.js";
import { type NameMap, nameKey } from "./resolve.js";

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

export function fromZgrab2(v: Obj, defaultPort: number, resolve?: NameMap): ProbeResult {
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
  let ip: string;
  let name: string | undefined;
  if (ipText !== undefined) ip = canonicalIp(ipText, "ip");
  else if (domain === undefined || domain === "") throw new Unimportable("ip: missing");
  else {
    // The name is the row's key now: it must be one (a name never reaches a resolver here).
    name = nameKey(domain);
    const problem = hostnameProblem(name);
    if (problem !== undefined) {
      throw new Unimportable(
        `domain: not a host name: ${JSON.stringify(safeText(domain, 64))} (${problem})`,
      );
    }
    ip = resolve?.get(name) ?? unresolvedIp(name);
  }
  // Newer zgrab2 writes the port (on the module's entry, or top-level for CSV input).
  const portValue = mod.port ?? v.port;
  const port = portValue === undefined ? defaultPort : checkPort(portValue, "port");
  const time = isoTime(reqString(mod, "timestamp", "data.redis.timestamp"), "data.redis.timestamp");
  const err = optString(mod, "error", "data.redis.error") ?? "";
  const result = optObj(mod, "result", "data.redis.result");
  const transport = result?.tls != null ? "tls" : "tcp";

  const c = zgrab2Classification(status as Zgrab2Status, err, result);
  const r = resultOf(ip, port, transport, time, c);
  if (name !== undefined) r.hostname = name;
  else if (domain !== undefined && domain !== "") r.hostname = safeText(domain, 253);
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
