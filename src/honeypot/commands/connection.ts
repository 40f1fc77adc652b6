/**
 * Connection commands (Redis's @connection group): PING, ECHO, QUIT, AUTH, HELLO, RESET and
 * CLIENT, as networking.c and acl.c answer them. AUTH and HELLO report the passwords tried;
 * CLIENT shows only this connection, the one client a visitor can see.
 */
import { peerAddress } from "../../net/ip.js";
import { arr, bulk, int, simple } from "../../resp/index.js";
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
  pairsMap,
  type Reply,
  syntaxError,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory } from "./spec.js";

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
    ["server", bulk(c.era.valkey ? "valkey" : "redis")],
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
function formatAddr(ip: string, port: number): string {
  const plain = peerAddress(ip);
  return plain.includes(":") ? `[${plain}]:${port}` : `${plain}:${port}`;
}

/** One CLIENT LIST / CLIENT INFO line, with the fields of the persona's version. */
function clientLine(c: CommandContext, command: string): string {
  const era = c.era;
  const s = c.state;
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
    ["flags", subscriptions(s) > 0 ? "P" : "N"],
  );
  if (era.valkey) f.push(["capa", ""]);
  f.push(["db", s.db], ["sub", s.channels.size], ["psub", s.patterns.size]);
  if (era.at("7.0")) f.push(["ssub", 0]);
  f.push(["multi", -1]);
  if (era.at("7.4")) f.push(["watch", 0]);
  f.push(["qbuf", era.at("6.0") ? 26 : 0], ["qbuf-free", era.at("7.0") ? 20448 : 32742]);
  if (era.at("6.2")) f.push(["argv-mem", 10]);
  if (era.at("7.0")) f.push(["multi-mem", 0], ["rbs", 1024], ["rbp", 0]);
  f.push(["obl", 0], ["oll", 0], ["omem", 0]);
  if (era.at("6.2")) f.push(["tot-mem", era.at("7.0") ? 22298 : 61466]);
  f.push(["events", "r"], ["cmd", command]);
  if (era.acl) f.push(["user", "default"]);
  if (era.at("6.2")) f.push(["redir", -1]);
  if (era.at("7.0")) f.push(["resp", s.proto]);
  if (era.at("7.2")) f.push(["lib-name", ""], ["lib-ver", ""]);
  return f.map(([k, v]) => `${k}=${v}`).join(" ");
}

function clientList(c: CommandContext): Reply {
  if (c.args.length > 2 && c.era.before("5.0")) return syntaxError();
  const command = c.era.subcommandTable ? "client|list" : "client";
  return bulk(Buffer.from(`${clientLine(c, command)}\n`, "latin1"));
}

function clientInfo(c: CommandContext): Reply {
  return bulk(Buffer.from(`${clientLine(c, "client|info")}\n`, "latin1"));
}

function clientSetname(c: CommandContext): Reply {
  const name = c.arg(2);
  if (!validName(name)) return errorReply(CLIENT_NAME_INVALID);
  c.state.name = name;
  return OK;
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
      "no-evict": { arity: 3, since: "7.0", handler: () => OK },
      reply: { arity: 3, since: "3.2", handler: clientReply },
      pause: { arity: -3, arityBefore7: 3, since: "3.0", handler: clientPause },
      unpause: { arity: 2, since: "6.2", handler: () => OK },
      getredir: { arity: 2, since: "6.0", handler: () => integer(-1) },
      setinfo: { arity: 4, since: "7.2", handler: () => OK },
    },
    legacyErrors: { unknown: legacyClientError, arity: legacyClientError },
  },
]);
