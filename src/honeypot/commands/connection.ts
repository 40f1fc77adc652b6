/**
 * Connection commands (Redis's @connection group): PING, ECHO, QUIT, AUTH, HELLO, RESET and
 * CLIENT, as networking.c and acl.c answer them. AUTH and HELLO report the passwords tried;
 * CLIENT shows only this connection, the one client a visitor can see.
 */
import { peerAddress } from "../../net/ip.js";
import { arr, bulk, int, simple, verbatim } from "../../resp/index.js";
import { DATABASES } from "../keyspace.js";
import type { Era } from "../personas/era.js";
import {
  arityText,
  CLIENT_NAME_INVALID,
  dbNotIntegerText,
  dbOutOfRangeText,
  helloNoAuthText,
  NOT_INTEGER,
  noPasswordSetText,
  subcommandArgumentsText,
  wrongPasswordText,
} from "../personas/texts.js";
import { parseInt64, parseInteger } from "./integers.js";
import { subscriptionBytes, subscriptions } from "./pubsub.js";
import {
  bulkText,
  EMPTY_ARRAY,
  errorReply,
  integer,
  nullBulk,
  OK,
  outOfMemory,
  pairsMap,
  type Reply,
  syntaxError,
} from "./reply.js";
import {
  type CommandContext,
  type CommandSpec,
  inCategory,
  type SessionState,
  type Tracking,
} from "./spec.js";

/** CLIENT REPLY ON|OFF|SKIP: OFF and SKIP are not answered (the session drops the reply). */
function clientReply(c: CommandContext): Reply {
  const mode = c.arg(2).toLowerCase();
  const s = c.state;
  if (mode === "on") {
    s.replies = "on";
    return OK;
  }
  if (mode === "off") s.replies = "off";
  else if (mode === "skip") {
    if (s.replies !== "off") s.replies = "skip-next";
  } else return syntaxError();
  return OK;
}

/** CLIENT PAUSE timeout [WRITE|ALL] (modes 6.2+): validated and answered; nobody is paused. */
function clientPause(c: CommandContext): Reply {
  if (c.args.length > 4) return syntaxError();
  const ms = parseInteger(c.arg(2));
  if (ms === undefined) return errorReply("ERR timeout is not an integer or out of range");
  if (ms < 0) return errorReply("ERR timeout is negative");
  if (c.args.length === 4) {
    const mode = c.arg(3).toLowerCase();
    if (mode !== "write" && mode !== "all") {
      return errorReply("ERR CLIENT PAUSE mode must be WRITE or ALL");
    }
  }
  return OK;
}

/**
 * CLIENT UNBLOCK id [TIMEOUT|ERROR]: a client blocked on keys of this keyspace (one source's
 * connections) answers as its timeout, or with the UNBLOCKED error.
 */
function clientUnblock(c: CommandContext): Reply {
  if (c.args.length > 4) return errorReply(subcommandArgumentsText(c.era, c.arg(0), c.arg(1)));
  let how: "timeout" | "error" = "timeout";
  if (c.args.length === 4) {
    const reason = c.arg(3).toLowerCase();
    if (reason === "error") how = "error";
    else if (reason !== "timeout") {
      return errorReply("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    }
  }
  const id = parseInt64(c.arg(2));
  if (id === undefined) return errorReply(NOT_INTEGER);
  return integer(c.keyspace.blocked.unblock(Number(id), how) ? 1 : 0);
}

function ping(c: CommandContext): Reply {
  if (c.args.length > 2) return errorReply(arityText(c.fullName));
  const subscribed = c.state.proto === 2 && subscriptions(c.state) > 0;
  if (subscribed) return arr([bulk("pong"), bulk(c.args[1] ?? Buffer.alloc(0))]);
  return c.args.length === 2 ? bulk(c.args[1]!) : simple("PONG");
}

function echo(c: CommandContext): Reply {
  return bulk(c.args[1]!);
}

function quit(c: CommandContext): Reply {
  c.close = true;
  return OK;
}

/**
 * Is this (user, password) the persona's? Open personas let the default user in with any
 * password (nopass); password personas only with the operator's acceptPassword.
 */
function passwordMatches(c: CommandContext, user: string, password: string): boolean {
  if (user !== "default") return false;
  if (c.persona.auth !== "password") return true;
  return c.persona.acceptPassword !== undefined && password === c.persona.acceptPassword;
}

function auth(c: CommandContext): Reply {
  const era = c.era;
  if (era.acl && c.args.length > 3) return syntaxError();
  const user = c.args.length === 3 ? c.arg(1) : undefined;
  const password = c.arg(c.args.length - 1);
  const record = (ok: boolean): void => {
    c.effect =
      user === undefined
        ? { kind: "auth", password, ok }
        : { kind: "auth", username: user, password, ok };
  };
  if (user === undefined && c.persona.auth !== "password") {
    record(false);
    return errorReply(noPasswordSetText(era));
  }
  const ok = passwordMatches(c, user ?? "default", password);
  record(ok);
  if (!ok) return errorReply(wrongPasswordText(era));
  c.state.authenticated = true;
  return OK;
}

/** Client names are printable ASCII without spaces (CLIENT SETNAME's rule). */
function validName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

function hello(c: CommandContext): Reply {
  const era = c.era;
  let proto = c.state.proto;
  if (c.args.length >= 2) {
    const v = parseInteger(c.arg(1));
    // 6.0 refused a version that is not a number as it refuses 4 (6.2 gave it its own text).
    if (v === undefined && era.before("6.2")) {
      return errorReply("NOPROTO unsupported protocol version");
    }
    if (v === undefined)
      return errorReply("ERR Protocol version is not an integer or out of range");
    if (v < 2 || v > 3) return errorReply("NOPROTO unsupported protocol version");
    proto = v as 2 | 3;
  }
  let authPair: [string, string] | undefined;
  let name: string | undefined;
  for (let i = 2; i < c.args.length; i++) {
    const opt = c.arg(i).toUpperCase();
    const left = c.args.length - i - 1;
    if (opt === "AUTH" && left >= 2) {
      authPair = [c.arg(i + 1), c.arg(i + 2)];
      i += 2;
    } else if (opt === "SETNAME" && left >= 1) {
      name = c.arg(++i);
    } else {
      return errorReply(`ERR Syntax error in HELLO option '${c.arg(i)}'`);
    }
  }
  if (authPair !== undefined) {
    const [user, password] = authPair;
    const ok = passwordMatches(c, user, password);
    c.effect = { kind: "auth", username: user, password, ok };
    if (!ok) return errorReply(wrongPasswordText(era));
    c.state.authenticated = true;
  }
  if (!c.state.authenticated) return errorReply(helloNoAuthText(era));
  if (name !== undefined) {
    if (!validName(name)) return errorReply(CLIENT_NAME_INVALID);
    c.state.name = name;
  }
  c.state.proto = proto;
  return pairsMap([
    // Valkey says so from 8.0; 7.2 still answers as the Redis it forked.
    ["server", bulk(c.era.valkey8 ? "valkey" : "redis")],
    ["version", bulk(c.persona.version)],
    ["proto", int(proto)],
    ["id", int(c.client.id)],
    ["mode", bulk("standalone")],
    ["role", bulk(c.state.replication.master !== undefined ? "replica" : "master")],
    ["modules", EMPTY_ARRAY],
  ]);
}

/** RESET (6.2+): back to a fresh connection's state, authentication included. */
function reset(c: CommandContext): Reply {
  const s = c.state;
  s.proto = 2;
  s.db = 0;
  s.name = "";
  c.setMonitor(false);
  for (const name of [...s.channels, ...s.patterns, ...s.shardChannels]) {
    c.release(subscriptionBytes(name));
  }
  s.channels.clear();
  s.patterns.clear();
  s.shardChannels.clear();
  s.authenticated = c.persona.auth !== "password";
  return simple("RESET");
}

/**
 * An address as Redis formats it: `ip:port`, IPv6 in brackets. An IPv4 peer on a dual-stack
 * socket (`::ffff:a.b.c.d`) is shown as IPv4: Redis listens on separate v4 and v6 sockets.
 */
export function formatAddr(ip: string, port: number): string {
  const plain = peerAddress(ip);
  return plain.includes(":") ? `[${plain}]:${port}` : `${plain}:${port}`;
}

/**
 * A connection's buffers as CLIENT LIST shows them, by version and allocator (measured on the
 * recorded servers): the query buffer's room (qbuf + qbuf-free), the read buffer 7.0+ reports
 * (rbs: 16 KB as a connection starts, shrunk to 1 KB by the server's cron a moment later; we
 * shrink it from the fourth command) and what tot-mem adds to the buffers and the arguments.
 */
function buffers(c: CommandContext): { room: number; rbs: number; rbp: number; fixed: number } {
  const era = c.era;
  const io = c.state.io;
  const je = c.persona.jemalloc;
  const fresh = io.commands < 3;
  const rbs = fresh ? (je ? 16384 : 16392) : je ? 1024 : 1032;
  const rbp = io.commands === 0 ? rbs : fresh ? 0 : era.at("7.2") ? 5 : io.previous;
  if (era.keydb) return { room: 32770, rbs, rbp, fixed: 50024 };
  if (era.valkey8) return { room: 0, rbs, rbp, fixed: rbs + 904 };
  if (era.at("7.0")) {
    const base = je ? 21248 : era.at("7.4") ? 17184 : era.at("7.2") ? 17168 : 17136;
    return { room: je ? 20474 : 16386, rbs, rbp, fixed: rbs + base };
  }
  if (era.at("5.0")) return { room: era.at("6.2") ? 32770 : 32768, rbs, rbp, fixed: 49784 };
  return { room: 32768, rbs, rbp, fixed: 0 };
}

/**
 * CLIENT LIST's flags, in catClientInfoString's order: O monitor, P pubsub, x MULTI, t
 * tracking, B its BCAST mode, d a watched key changed.
 */
function clientFlags(s: SessionState, era: Era): string {
  let flags = s.monitor ? "O" : "";
  if (subscriptions(s) > 0) flags += "P";
  if (s.tx.active) flags += "x";
  if (s.tracking !== undefined) flags += s.tracking.bcast && era.at("6.2") ? "tB" : "t";
  if (s.tx.casFailed) flags += "d";
  return flags === "" ? "N" : flags;
}

/** One CLIENT LIST / CLIENT INFO line, with the fields of the persona's version. */
function clientLine(c: CommandContext, command: string): string {
  const era = c.era;
  const s = c.state;
  const io = s.io;
  const now = c.now();
  const local = c.client.local ?? {
    ip:
      c.client.peer.ip.startsWith("127.") || c.client.peer.ip === "::1"
        ? c.client.peer.ip
        : "0.0.0.0",
    port: c.client.listenerPort,
  };
  const f: Array<[string, string | number]> = [
    ["id", c.client.id],
    ["addr", formatAddr(c.client.peer.ip, c.client.peer.port)],
  ];
  if (era.at("6.2")) f.push(["laddr", formatAddr(local.ip, local.port)]);
  f.push(
    ["fd", 8 + (c.client.id % 23)],
    ["name", s.name],
    ["age", Math.floor((now - s.createdAt) / 1000)],
    ["idle", 0],
    ["flags", clientFlags(s, era)],
  );
  if (era.valkey && era.ownAt("8.1")) f.push(["capa", ""]);
  f.push(["db", s.db], ["sub", s.channels.size], ["psub", s.patterns.size]);
  if (era.at("7.0")) f.push(["ssub", 0]);
  f.push(["multi", s.tx.active ? s.tx.queue.length : -1]);
  if (era.at("7.4") || era.valkey8) f.push(["watch", s.tx.watched.length]);
  // 5.0+ shows the request being run still in the query buffer (KeyDB and Valkey 8 do not).
  const b = buffers(c);
  const qbuf = era.at("5.0") && !era.keydb && b.room > 0 ? io.request : 0;
  f.push(["qbuf", qbuf], ["qbuf-free", Math.max(0, b.room - qbuf)]);
  // argv-mem and tot-mem arrived in 6.0.? (6.0.20 has them): the arguments' bytes, and all the
  // client's buffers plus the argument vector.
  const argvMem = c.args.reduce((n, _, i) => n + c.argLength(i), 0);
  const perArgs = era.at("6.0") || era.keydb;
  if (perArgs) f.push(["argv-mem", argvMem]);
  if (era.at("7.0")) f.push(["multi-mem", 0], ["rbs", b.rbs], ["rbp", b.rbp]);
  f.push(["obl", 0], ["oll", 0], ["omem", 0]);
  if (perArgs) f.push(["tot-mem", b.fixed + argvMem + 8 * c.args.length]);
  f.push(["events", "r"], ["cmd", command]);
  if (era.acl) f.push(["user", "default"]);
  if (era.at("6.2")) f.push(["redir", s.tracking?.redirect ?? -1]);
  if (era.at("7.0")) f.push(["resp", s.proto]);
  if (era.at("7.2")) f.push(["lib-name", s.libName], ["lib-ver", s.libVer]);
  if (era.valkey8) {
    f.push(["tot-net-in", io.netIn], ["tot-net-out", io.netOut], ["tot-cmds", io.commands]);
  }
  return f.map(([k, v]) => `${k}=${v}`).join(" ");
}

/** CLIENT LIST / CLIENT INFO's text: a verbatim string to a RESP3 client (6.0+). */
function clientText(line: string): Reply {
  return verbatim(Buffer.from(`${line}\n`, "latin1"));
}

function clientList(c: CommandContext): Reply {
  if (c.args.length > 2 && c.era.before("5.0")) return errorReply(legacyClientError("", c.era));
  const command = c.era.subcommandTable ? "client|list" : "client";
  return clientText(clientLine(c, command));
}

function clientInfo(c: CommandContext): Reply {
  return clientText(clientLine(c, c.era.subcommandTable ? "client|info" : "client"));
}

/** CLIENT SETINFO LIB-NAME|LIB-VER (7.2+): shown in CLIENT LIST. */
function clientSetinfo(c: CommandContext): Reply {
  const attr = c.arg(2);
  const which = attr.toLowerCase();
  if (which !== "lib-name" && which !== "lib-ver") {
    return errorReply(`ERR Unrecognized option '${attr}'`);
  }
  const value = c.arg(3);
  if (!validName(value)) {
    return errorReply(`ERR ${attr} cannot contain spaces, newlines or special characters.`);
  }
  const old = which === "lib-name" ? c.state.libName : c.state.libVer;
  if (!heldInstead(c, old.length, value.length)) return outOfMemory();
  if (which === "lib-name") c.state.libName = value;
  else c.state.libVer = value;
  return OK;
}

/** CLIENT NO-EVICT / NO-TOUCH on|off: accepted (a honeypot evicts nothing, touches nothing). */
function onOff(c: CommandContext): Reply {
  return /^(on|off)$/i.test(c.arg(2)) ? OK : syntaxError();
}

/** Most BCAST prefixes one connection keeps (Redis has no limit; the honeypot must). */
const MAX_TRACKING_PREFIXES = 64;

/** CLIENT TRACKING on|off [REDIRECT id] [BCAST] [PREFIX p]… [OPTIN] [OPTOUT] [NOLOOP]. */
function clientTracking(c: CommandContext): Reply {
  let redirect: number | undefined;
  let bcast = false;
  let optin = false;
  let optout = false;
  let noloop = false;
  const prefixes: string[] = [];
  for (let j = 3; j < c.args.length; j++) {
    const opt = c.arg(j).toLowerCase();
    const more = j < c.args.length - 1;
    if (opt === "redirect" && more) {
      j++;
      if (redirect !== undefined) {
        return errorReply("ERR A client can only redirect to a single other client");
      }
      const id = parseInt64(c.arg(j));
      if (id === undefined) return errorReply(NOT_INTEGER);
      // Only this connection's own id is known to exist (the honeypot shows no other client).
      if (id !== BigInt(c.client.id)) {
        return errorReply("ERR The client ID you want redirect to does not exist");
      }
      redirect = Number(id);
    } else if (opt === "bcast") bcast = true;
    else if (opt === "optin") optin = true;
    else if (opt === "optout") optout = true;
    else if (opt === "noloop") noloop = true;
    else if (opt === "prefix" && more) {
      j++;
      if (prefixes.length < MAX_TRACKING_PREFIXES) prefixes.push(c.arg(j));
    } else return syntaxError();
  }
  const s = c.state;
  const mode = c.arg(2).toLowerCase();
  const heldPrefixes = (t: Tracking | undefined): number =>
    (t?.prefixes ?? []).reduce((n, p) => n + p.length, 0);
  if (mode === "off") {
    c.release(heldPrefixes(s.tracking));
    delete s.tracking;
    return OK;
  }
  if (mode !== "on") return syntaxError();
  const was = s.tracking;
  if (!bcast && prefixes.length > 0) {
    return errorReply("ERR PREFIX option requires BCAST mode to be enabled");
  }
  if (was !== undefined && was.bcast !== bcast) {
    return errorReply(
      "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
    );
  }
  if (bcast && (optin || optout)) {
    return errorReply("ERR OPTIN and OPTOUT are not compatible with BCAST");
  }
  if (optin && optout) return errorReply("ERR You can't specify both OPTIN mode and OPTOUT mode");
  if ((optin && was?.optout) || (optout && was?.optin)) {
    return errorReply(
      "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
    );
  }
  // Enabling again sets the modes anew (enableTracking); BCAST prefixes add up, none is "".
  const kept = was?.prefixes ?? [];
  const added = bcast && prefixes.length === 0 ? [""] : prefixes;
  const tracking: Tracking = {
    redirect: redirect ?? 0,
    bcast,
    optin,
    optout,
    noloop,
    caching: false,
    prefixes: [...new Set([...kept, ...added])].slice(0, MAX_TRACKING_PREFIXES),
  };
  if (!heldInstead(c, heldPrefixes(was), heldPrefixes(tracking))) return outOfMemory();
  s.tracking = tracking;
  return OK;
}

/** CLIENT CACHING yes|no: only in OPTIN (yes) or OPTOUT (no) tracking. */
function clientCaching(c: CommandContext): Reply {
  const t = c.state.tracking;
  if (t === undefined) {
    return errorReply(
      "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
    );
  }
  const opt = c.arg(2).toLowerCase();
  if (opt === "yes") {
    if (!t.optin) {
      return errorReply(
        "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
      );
    }
  } else if (opt === "no") {
    if (!t.optout) {
      return errorReply(
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
      );
    }
  } else return syntaxError();
  t.caching = true;
  return OK;
}

/** CLIENT TRACKINGINFO (6.2+): flags (a set in RESP3), redirect, prefixes. */
function clientTrackingInfo(c: CommandContext): Reply {
  const t = c.state.tracking;
  const flags: string[] = [t === undefined ? "off" : "on"];
  if (t?.bcast) flags.push("bcast");
  if (t?.optin) flags.push("optin", ...(t.caching ? ["caching-yes"] : []));
  if (t?.optout) flags.push("optout", ...(t.caching ? ["caching-no"] : []));
  if (t?.noloop) flags.push("noloop");
  const names = flags.map((f) => bulkText(f));
  return pairsMap([
    ["flags", c.state.proto === 3 ? { type: "set", value: names } : arr(names)],
    ["redirect", integer(t === undefined ? -1 : t.redirect)],
    ["prefixes", arr([...(t?.prefixes ?? [])].sort().map((p) => bulkText(p)))],
  ]);
}

/** CLIENT GETREDIR: the tracking redirection, 0 tracking without one, -1 not tracking. */
function clientGetredir(c: CommandContext): Reply {
  return integer(c.state.tracking?.redirect ?? -1);
}

function clientSetname(c: CommandContext): Reply {
  const name = c.arg(2);
  if (!validName(name)) return errorReply(CLIENT_NAME_INVALID);
  if (!heldInstead(c, c.state.name.length, name.length)) return outOfMemory();
  c.state.name = name;
  return OK;
}

/**
 * A string the connection keeps (its name, its library, tracking prefixes) replaced by one of
 * `now` bytes: held in the session's memory share first, the old one let go; false when the
 * share has no room (nothing changes).
 */
function heldInstead(c: CommandContext, before: number, now: number): boolean {
  if (!c.hold(now)) return false;
  c.release(before);
  return true;
}

function clientGetname(c: CommandContext): Reply {
  return c.state.name === "" ? nullBulk() : bulkText(c.state.name);
}

/** CLIENT KILL: only this very connection can be found; killing it closes it. */
function clientKill(c: CommandContext): Reply {
  const self = formatAddr(c.client.peer.ip, c.client.peer.port);
  if (c.args.length === 3) {
    if (c.arg(2) !== self) return errorReply("ERR No such client");
    c.close = true;
    return OK;
  }
  if ((c.args.length - 2) % 2 !== 0) return syntaxError();
  let matches = true;
  for (let i = 2; i < c.args.length; i += 2) {
    const filter = c.arg(i).toUpperCase();
    const value = c.arg(i + 1);
    if (filter === "ID") {
      const id = parseInteger(value);
      if (id === undefined) return errorReply("ERR client-id should be greater than 0");
      matches &&= id === c.client.id;
    } else if (filter === "ADDR") matches &&= value === self;
    else if (filter === "SKIPME") matches &&= value.toLowerCase() === "no";
    else if (filter === "TYPE" || filter === "USER" || filter === "LADDR" || filter === "MAXAGE") {
      matches = false;
    } else return syntaxError();
  }
  if (matches) c.close = true;
  return integer(matches ? 1 : 0);
}

const legacyClientError = (_sub: string, era: Era): string =>
  era.before("3.2")
    ? "ERR Syntax error, try CLIENT (LIST | KILL ip:port | GETNAME | SETNAME connection-name)"
    : "ERR Syntax error, try CLIENT (LIST | KILL | GETNAME | SETNAME | PAUSE | REPLY)";

function select(c: CommandContext): Reply {
  const n = parseInt64(c.arg(1));
  if (n === undefined) return errorReply(dbNotIntegerText(c.era));
  // 6.2+ reads an int (getIntFromObjectOrReply): past its range, the range error.
  if (c.era.at("6.2") && (n < -2147483648n || n > 2147483647n)) {
    return errorReply("ERR value is out of range, value must between -2147483648 and 2147483647");
  }
  if (n < 0n || n >= BigInt(DATABASES)) return errorReply(dbOutOfRangeText(c.era));
  c.state.db = Number(n);
  return OK;
}

export const CONNECTION_COMMANDS: CommandSpec[] = inCategory("connection", [
  { name: "ping", arity: -1, flags: ["pubsub"], handler: ping },
  { name: "echo", arity: 2, handler: echo },
  { name: "quit", arity: -1, flags: ["noauth", "pubsub"], handler: quit },
  {
    name: "auth",
    arity: [
      ["2.8", 2],
      ["6.0", -2],
    ],
    flags: ["noauth"],
    handler: auth,
  },
  {
    name: "hello",
    arity: [
      ["6.0", -2],
      ["6.2", -1],
    ],
    since: "6.0",
    flags: ["noauth"],
    handler: hello,
  },
  { name: "reset", arity: 1, since: "6.2", flags: ["noauth", "pubsub"], handler: reset },
  { name: "select", arity: 2, handler: select },
  {
    name: "client",
    arity: -2,
    subcommands: {
      list: { arity: -2, handler: clientList },
      info: { arity: 2, since: "6.2", handler: clientInfo },
      setname: { arity: 3, handler: clientSetname },
      getname: { arity: 2, handler: clientGetname },
      id: { arity: 2, since: "5.0", handler: (c) => integer(c.client.id) },
      kill: { arity: -3, handler: clientKill },
      unblock: { arity: -3, since: "5.0", handler: clientUnblock },
      "no-evict": { arity: 3, since: "7.0", handler: onOff },
      "no-touch": { arity: 3, since: "7.2", handler: onOff },
      tracking: { arity: -3, since: "6.0", handler: clientTracking },
      trackinginfo: { arity: 2, since: "6.2", handler: clientTrackingInfo },
      caching: { arity: 3, since: "6.0", handler: clientCaching },
      reply: { arity: 3, since: "3.2", handler: clientReply },
      pause: { arity: -3, arityBefore7: 3, since: "3.0", handler: clientPause },
      unpause: { arity: 2, since: "6.2", handler: () => OK },
      getredir: { arity: 2, since: "6.0", handler: clientGetredir },
      setinfo: { arity: 4, since: "7.2", handler: clientSetinfo },
    },
    legacyErrors: { unknown: legacyClientError, arity: legacyClientError },
  },
]);
