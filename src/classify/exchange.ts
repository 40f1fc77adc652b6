/**
 * One connection → one state (DESIGN.md "Security-state taxonomy").
 *
 * The probe writes `PING`, `HELLO 3`, `INFO`, `QUIT` in one go and reads what comes back. Some
 * servers speak before reading anything — protected mode (`-DENIED`), max clients, cloud
 * allow-lists — and then close, so the first reply may be unsolicited.
 *
 * Decision order (first that applies wins):
 *  1. connectError            → `closed` (refused / reset) or `timeout` (timed out, unreachable,
 *                               blocked, anything else: no connection was made and the peer did
 *                               not refuse it). detail: refused | reset | connect_timeout |
 *                               unreachable | blocked | connect_error.
 *  2. nothing received        → `silent` (read_timeout, or `closed` when the peer sent FIN
 *                               without a byte); `error`/reset when it reset the connection;
 *                               over TLS a failed handshake is `error`/tls_handshake (or
 *                               `silent`/tls_timeout when the peer never answered).
 *  3. first byte is not RESP  → `not_redis`: http | ssh | tls | unknown. A RESP-looking first
 *                               byte that still fails to decode (`* OK` IMAP) is `unknown` too.
 *  4. the replies, most restrictive evidence first:
 *       DENIED                          → protected      (even if other bytes follow)
 *       ILLEGAL_ADDRESS / IP_WHITELIST  → ip_restricted
 *       NOAUTH / NOT_PERMITTED / WRONGPASS → auth_required (also if PING said PONG: a weird
 *                                          server; facts learned are still reported)
 *       MAXCLIENTS / LOADING / BUSY / MASTERDOWN → busy. LOADING still lets INFO and HELLO
 *                                          through, BUSY lets HELLO through (7.x): their facts
 *                                          are kept.
 *       INFO parsed                     → open (nicer "Returned version" when a version is known;
 *                                          detail PROTOCOL if the stream broke after it)
 *       protocol breakage after a valid reply → error / PROTOCOL
 *       PONG, a HELLO map or an AUTH answered "no password is set", INFO not usable
 *                                       → open, detail INFO_RENAMED (INFO unknown command: the
 *                                          reply to INFO, or any error that names INFO, so a
 *                                          recorded stream whose commands are not known reads
 *                                          as the scan's does),
 *                                          NOPERM (ACL-restricted default user), another code,
 *                                          INFO_UNPARSED, INFO_TRUNCATED (byte budget) or NO_INFO.
 *       only errors                     → error, detail = first error kind (NOPERM-only,
 *                                          UNKNOWN_COMMAND when everything is renamed, ERR, …)
 *       valid RESP, nothing recognised  → error / UNEXPECTED; a reply cut short → INCOMPLETE
 *     Over TLS, a plaintext Redis that wrote an on-accept error before the handshake failed is
 *     classified by that error; any other plaintext RESP answer is `error`/tls_plaintext.
 * `error` holds the error line that decided the state (else the first error line; for
 * not_redis the first line of what the peer sent), made safe and cut to 256 characters.
 */

import type { RespValue } from "../resp/types.js";
import { NICER_ROW, type ServerFacts, type State } from "../schema/result.js";
import { MAX_ERROR_CHARS, safeText } from "../untrusted/text.js";
import {
  FACT_KEYS,
  factsFromHello,
  helloFields,
  looksLikeInfo,
  serverFactsFromInfo,
} from "./facts.js";
import { type ErrorKind, errorKind, hintFromErrors, unknownCommandName } from "./hints.js";
import { parseInfo } from "./info.js";
import { respText } from "./text.js";

/** What happened on one connection, as the engine saw it. */
export interface Exchange {
  /** Command names in the order sent, e.g. ["PING","HELLO","INFO","QUIT"]. */
  sent: string[];
  /** Decoded replies in arrival order (may be fewer than sent, or include an unsolicited first one). */
  replies: RespValue[];
  /** The reply decoder rejected the stream. */
  protocolError?: { code: string; offset: number };
  /** The first bytes received (≤ 512), raw, for recognising non-Redis peers. */
  head: Buffer;
  bytesReceived: number;
  /** FIN from the server. */
  closedByPeer: boolean;
  /** ECONNRESET / EPIPE after connect. */
  reset: boolean;
  /** Read budget expired before the exchange completed. */
  readTimedOut: boolean;
  budgetExceeded?: "bytes" | "time";
  /** ECONNREFUSED, ETIMEDOUT (connect budget), EHOSTUNREACH, ENETUNREACH, EACCES … */
  connectError?: string;
  /** Handshake failure text when probing over TLS. */
  tlsError?: string;
}

export interface Classification {
  state: State;
  nicer?: string;
  detail?: string;
  error?: string;
  server?: ServerFacts;
}

/** First bytes of every RESP2/RESP3 value type. */
const RESP_FIRST = new Set([..."+-:$*_#,(!=%~|>"].map((c) => c.charCodeAt(0)));
/** Decoder errors that mean "bigger than our budgets", as opposed to "not RESP at all". */
const LIMIT_CODES = new Set(["bulk_too_large", "too_many_elements", "line_too_long", "too_deep"]);

export type PeerKind = "http" | "ssh" | "tls" | "unknown";

/** What a non-RESP peer looks like from its first bytes. */
export function peerKind(head: Buffer): PeerKind {
  const start = head.subarray(0, 16).toString("latin1");
  if (start.startsWith("HTTP/")) return "http";
  if (start.startsWith("SSH-")) return "ssh";
  // TLS record header: alert (0x15) or handshake (0x16), version major 3.
  if ((head[0] === 0x15 || head[0] === 0x16) && head[1] === 0x03) return "tls";
  if (/^\s*<(!doctype|html)/i.test(start)) return "http";
  return "unknown";
}

function connectClassification(raw: string): Classification {
  const code = /\bE[A-Z]{2,}\b/.exec(raw)?.[0] ?? "";
  const error = safeText(raw);
  let state: State = "timeout";
  let detail: string;
  switch (code) {
    case "ECONNREFUSED":
      state = "closed";
      detail = "refused";
      break;
    case "ECONNRESET":
      state = "closed";
      detail = "reset";
      break;
    case "ETIMEDOUT":
    case "ETIME":
      detail = "connect_timeout";
      break;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
    case "ENETDOWN":
      detail = "unreachable";
      break;
    case "EACCES":
    case "EPERM":
      detail = "blocked";
      break;
    default:
      detail = /timed? ?out/i.test(raw) ? "connect_timeout" : "connect_error";
  }
  return { state, detail, error };
}

function firstLine(buf: Buffer): string {
  let end = buf.indexOf(0x0a);
  if (end < 0) end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0d) end--;
  return buf.subarray(0, end).toString("utf8");
}

/**
 * Replies as decoded, or — when nothing decoded — the first line of `head` if it starts like a
 * RESP error or status. That keeps an on-accept `-DENIED …` whose tail was lost (reset, byte
 * budget, TLS handshake on a plaintext port) or whose line ending is broken.
 */
function effectiveReplies(ex: Exchange): { replies: RespValue[]; fromHead: boolean } {
  if (ex.replies.length > 0) return { replies: ex.replies, fromHead: false };
  const b = ex.head[0];
  if (b === 0x2d /* - */ || b === 0x2b /* + */) {
    const value = firstLine(ex.head.subarray(1));
    return {
      replies: [b === 0x2d ? { type: "error", value } : { type: "simple", value }],
      fromHead: true,
    };
  }
  return { replies: [], fromHead: false };
}

/** Errors that servers send on accept, before reading a command. */
function isOnAccept(kind: ErrorKind): boolean {
  return (
    kind === "DENIED" ||
    kind === "MAXCLIENTS" ||
    kind === "ILLEGAL_ADDRESS" ||
    kind === "IP_WHITELIST"
  );
}

interface Aligned {
  v: RespValue;
  /** Command this reply answers; undefined for an unsolicited one. */
  cmd?: string;
}

/**
 * Pair replies with commands. Replies beyond the number of commands are taken as unsolicited
 * and leading; so is a first on-accept error even when the counts match. Successful replies are
 * also recognised by shape (PONG, HELLO map, INFO text), so a misaligned stream still yields
 * its facts; the pairing matters for errors (which command was refused).
 */
function align(all: RespValue[], sent: string[]): Aligned[] {
  // RESP3 push and attribute values are out-of-band: they answer no command.
  const replies = all.filter((v) => v.type !== "push" && v.type !== "attribute");
  let skip = Math.max(0, replies.length - sent.length);
  const r0 = replies[0];
  if (skip === 0 && r0 !== undefined && r0.type === "error" && isOnAccept(errorKind(r0.value))) {
    skip = 1;
  }
  return replies.map((v, i) => {
    const cmd = i < skip ? undefined : sent[i - skip]?.toUpperCase();
    return cmd === undefined ? { v } : { v, cmd };
  });
}

interface SeenError {
  line: string;
  kind: ErrorKind;
  cmd?: string;
}

/** Restrictive states and the error kinds that prove them, most restrictive first. */
const RESTRICTIVE: Array<[State, ErrorKind[]]> = [
  ["protected", ["DENIED"]],
  ["ip_restricted", ["ILLEGAL_ADDRESS", "IP_WHITELIST"]],
  ["auth_required", ["NOAUTH", "NOT_PERMITTED", "WRONGPASS"]],
  ["busy", ["MAXCLIENTS", "LOADING", "BUSY", "MASTERDOWN"]],
];

/** Sets `nicer` on a classification built by the caller (it is not shared, so no copy). */
function withNicer(c: Classification): Classification {
  const known = c.state !== "open" || c.server?.version !== undefined;
  const nicer = NICER_ROW[c.state];
  if (nicer !== undefined && known) c.nicer = nicer;
  return c;
}

/** All error lines from what was received, for the version hints. */
function errorLines(ex: Exchange): string[] {
  const out: string[] = [];
  for (const v of effectiveReplies(ex).replies) if (v.type === "error") out.push(v.value);
  return out;
}

/** Pre-auth version era evidence (vocabulary in hints.ts), whatever the state. */
export function versionHint(ex: Exchange): string | undefined {
  return hintFromErrors(errorLines(ex)).hint;
}

/** TLS alerts a server sends when the client presented no (acceptable) certificate. */
const CLIENT_CERT_ALERT = /certificate_required|handshake_failure|bad_certificate/;

export function classifyExchange(ex: Exchange): Classification {
  if (ex.connectError !== undefined) return connectClassification(ex.connectError);

  const { replies, fromHead } = effectiveReplies(ex);
  const nothing = replies.length === 0 && ex.head.length === 0 && ex.bytesReceived === 0;
  if (nothing) {
    if (ex.tlsError !== undefined) {
      // A TLS server that demands a client certificate requires authentication (mutual TLS).
      if (CLIENT_CERT_ALERT.test(ex.tlsError)) {
        return withNicer({
          state: "auth_required",
          detail: "TLS_CLIENT_CERT",
          error: safeText(`tls alert ${ex.tlsError}`),
        });
      }
      return ex.readTimedOut || ex.budgetExceeded === "time"
        ? { state: "silent", detail: "tls_timeout", error: safeText(ex.tlsError) }
        : withNicer({ state: "error", detail: "tls_handshake", error: safeText(ex.tlsError) });
    }
    if (ex.reset) return withNicer({ state: "error", detail: "reset" });
    if (ex.closedByPeer && !ex.readTimedOut) return { state: "silent", detail: "closed" };
    return { state: "silent", detail: "read_timeout" };
  }

  if (replies.length === 0) {
    const b = ex.head[0];
    // A RESP header that announces more than our budgets allow (a 2 GiB bulk, a million
    // elements, an endless line) is a Redis-speaking peer misbehaving, not another protocol.
    if (
      ex.protocolError !== undefined &&
      b !== undefined &&
      RESP_FIRST.has(b) &&
      LIMIT_CODES.has(ex.protocolError.code)
    ) {
      return withNicer({
        state: "error",
        detail: "PROTOCOL",
        error: `protocol error ${ex.protocolError.code} at byte ${ex.protocolError.offset}`,
      });
    }
    if (ex.head.length > 0 && (b === undefined || !RESP_FIRST.has(b) || ex.protocolError)) {
      const banner = safeText(firstLine(ex.head));
      const c: Classification = { state: "not_redis", detail: peerKind(ex.head) };
      if (banner.length > 0) c.error = banner;
      return c;
    }
    // RESP-looking bytes that never made a whole reply (cut by timeout, reset or budget).
    return withNicer({ state: "error", detail: "INCOMPLETE" });
  }

  // ---- Evidence from the replies ----
  const aligned = align(replies, ex.sent);
  const errors: SeenError[] = [];
  let pong = false;
  // An AUTH answered "no password is set": commands are served without authentication.
  let noPassword = false;
  let hello: Map<string, RespValue> | undefined;
  let helloError: SeenError | undefined;
  let infoError: SeenError | undefined;
  let infoText: string | undefined;
  const candidates: string[] = [];
  for (const { v, cmd } of aligned) {
    if (v.type === "error") {
      const e: SeenError = { line: v.value, kind: errorKind(v.value) };
      if (cmd !== undefined) e.cmd = cmd;
      errors.push(e);
      if (e.kind === "NO_PASSWORD") noPassword = true;
      const infoUnknown = e.kind === "UNKNOWN_COMMAND" && unknownCommandName(v.value) === "INFO";
      if ((cmd === "INFO" || infoUnknown) && infoError === undefined) infoError = e;
      if (cmd === "HELLO" && helloError === undefined) helloError = e;
      continue;
    }
    if (hello === undefined) {
      hello = helloFields(v);
      if (hello !== undefined) continue;
    }
    const text = respText(v);
    if (text === undefined) continue;
    // PONG as a status (the norm) or as a bulk string (some proxies and compatibles).
    if (text.length <= 8 && text.trim().toUpperCase() === "PONG") {
      pong = true;
    } else if (v.type === "bulk" || v.type === "verbatim") {
      if (cmd === "INFO" && infoText === undefined) infoText = text;
      else candidates.push(text);
    }
  }

  let parsed = infoText === undefined ? undefined : parseInfo(infoText, FACT_KEYS);
  let infoOk = parsed !== undefined && looksLikeInfo(parsed);
  if (!infoOk) {
    // Misaligned stream (extra or missing replies): any bulk that reads as INFO will do.
    for (const t of candidates) {
      const p = parseInfo(t, FACT_KEYS);
      if (looksLikeInfo(p)) {
        parsed = p;
        infoOk = true;
        break;
      }
    }
  }

  // ---- Facts learned, whatever the state ----
  let server: ServerFacts = {};
  if (infoOk && parsed !== undefined) server = serverFactsFromInfo(parsed, hello);
  else if (hello !== undefined) server = factsFromHello(hello);
  if (infoOk && server.proto === undefined && helloError !== undefined) server.proto = 2;
  if (server.version === undefined) {
    const h = hintFromErrors(errors.map((e) => e.line));
    if (h.hint !== undefined) server.version_hint = h.hint;
    if (h.product !== undefined && server.product === undefined) server.product = h.product;
  }

  // ---- State, most restrictive evidence first ----
  let state: State;
  let detail: string | undefined;
  let decisive: SeenError | undefined;
  let errorText: string | undefined;

  let restrictive: State | undefined;
  // An open server sent no error at all: the common case skips the search.
  for (let i = 0; errors.length > 0 && i < RESTRICTIVE.length; i++) {
    const [st, kinds] = RESTRICTIVE[i]!;
    decisive = errors.find((e) => kinds.includes(e.kind));
    if (decisive !== undefined) {
      restrictive = st;
      break;
    }
  }
  if (restrictive !== undefined) {
    state = restrictive;
  } else if (ex.tlsError !== undefined && fromHead) {
    state = "error";
    detail = "tls_plaintext";
    decisive = errors[0];
  } else if (infoOk) {
    // INFO answered without authentication: that is the fact that matters, even if the
    // stream broke afterwards (noted in detail).
    state = "open";
    if (ex.protocolError !== undefined) {
      detail = "PROTOCOL";
      errorText = `protocol error ${ex.protocolError.code} at byte ${ex.protocolError.offset}`;
    }
  } else if (ex.protocolError !== undefined) {
    state = "error";
    detail = "PROTOCOL";
    errorText = `protocol error ${ex.protocolError.code} at byte ${ex.protocolError.offset}`;
  } else if (pong || hello !== undefined || noPassword) {
    state = "open";
    if (infoError !== undefined) {
      decisive = infoError;
      detail = infoError.kind === "UNKNOWN_COMMAND" ? "INFO_RENAMED" : infoError.kind;
    } else if (infoText !== undefined) {
      detail = "INFO_UNPARSED";
    } else {
      detail = ex.budgetExceeded === "bytes" ? "INFO_TRUNCATED" : "NO_INFO";
    }
  } else if (errors.length > 0) {
    state = "error";
    decisive = errors[0];
  } else {
    state = "error";
    detail = ex.readTimedOut || ex.budgetExceeded !== undefined ? "INCOMPLETE" : "UNEXPECTED";
  }
  if (detail === undefined && decisive !== undefined) detail = decisive.kind;

  const c: Classification = { state };
  if (detail !== undefined) c.detail = detail;
  const err = errorText ?? decisive?.line;
  if (err !== undefined) c.error = safeText(err, MAX_ERROR_CHARS);
  if (Object.keys(server).length > 0) c.server = server;
  return withNicer(c);
}
