/**
 * Replication commands (replication.c): SLAVEOF / REPLICAOF, ROLE, WAIT, and a master's side of
 * the replica handshake: REPLCONF, SYNC and PSYNC. SLAVEOF opens no connection here: the
 * session becomes a read-only replica of the master it names, and the effect carries host and
 * port to the server (which follows it only when the operator enabled payload capture). A
 * visitor that asks for SYNC/PSYNC (to read the data out) gets what a master sends a new
 * replica: +FULLRESYNC, then an RDB of the session's keyspace in the version's format; from
 * then on its commands get no reply, as a master's replica clients get none.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { arr, bulk, int, simple } from "../../resp/index.js";
import { DATABASES } from "../keyspace.js";
import { NOT_INTEGER } from "../personas/texts.js";
import { type RdbDatabase, rdbFile } from "../rdb.js";
import type { ReplicaLinkEvent } from "../types.js";
import { parseInt64, parseInteger } from "./integers.js";
import {
  bulkText,
  EMPTY_ARRAY,
  errorReply,
  integer,
  OK,
  type Reply,
  syntaxError,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, type SessionState } from "./spec.js";

function replicaof(c: CommandContext): Reply {
  const host = c.arg(1);
  const portText = c.arg(2);
  const r = c.state.replication;
  if (host.toLowerCase() === "no" && portText.toLowerCase() === "one") {
    delete r.link;
    if (r.master !== undefined) {
      // Promotion: a new history id, the old one kept as the secondary (as 4.0+ does).
      delete r.master;
      r.replid2 = r.replid;
      r.replid = createHash("sha1").update(`${r.replid}${c.now()}`).digest("hex");
      r.secondReplOffset = 1;
    }
    c.effect = { kind: "replicaof", host: "NO ONE", port: 0 };
    return OK;
  }
  const port = parseInteger(portText);
  if (c.era.at("7.0")) {
    if (port === undefined || port < 0 || port > 65535)
      return errorReply("ERR Invalid master port");
  } else if (port === undefined) {
    return errorReply(NOT_INTEGER);
  }
  if (r.master !== undefined && r.master.host === host && r.master.port === port) {
    return simple("OK Already connected to specified master");
  }
  // A master turning replica caches itself as the master to continue from (4.0+, PSYNC2): a
  // client of the server's own, which takes a client id.
  if (r.master === undefined && c.era.at("4.0")) c.persona.internalClient();
  r.master = { host, port: port! };
  delete r.link;
  c.effect = { kind: "replicaof", host, port: port!, psync2: c.era.at("4.0") };
  return OK;
}

/** ROLE's replica state names (replicationGetSlaveStateName... as ROLE words them). */
const ROLE_STATE = {
  connecting: "connecting",
  handshake: "handshake",
  transfer: "sync",
  down: "connect",
} as const;

function role(c: CommandContext): Reply {
  const { master, link } = c.state.replication;
  if (master === undefined) return arr([bulk("master"), int(0), EMPTY_ARRAY]);
  const state = link === undefined ? "connect" : ROLE_STATE[link];
  return arr([bulk("slave"), bulkText(master.host), int(master.port), bulk(state), int(-1)]);
}

/**
 * What the server's link for this session's SLAVEOF did: its phase (INFO and ROLE show it),
 * and a payload kept, which the replica would have saved as dir/dbfilename when it arrived
 * (the rogue-master chain sets dbfilename to the module's name first, then MODULE LOADs it).
 */
export function replicaLinkEvent(state: SessionState, event: ReplicaLinkEvent): string | undefined {
  const r = state.replication;
  if (event.phase !== "payload") {
    if (r.master !== undefined) r.link = event.phase;
    return undefined;
  }
  const dir = state.config.get("dir") ?? "/";
  const file = state.config.get("dbfilename") ?? "dump.rdb";
  const saved = event.path ?? path.posix.resolve(dir, file);
  if (r.master !== undefined) r.link = "down";
  r.payload = {
    path: saved,
    sha256: event.sha256,
    bytes: event.bytes,
    commands: event.commands,
    ...(event.module !== undefined ? { module: event.module } : {}),
  };
  return saved;
}

/** A reply of no bytes: what a master answers REPLCONF ACK, or a replica's second SYNC. */
const NOTHING: Reply = { type: "raw", bytes: Buffer.alloc(0) };

function replconf(c: CommandContext): Reply {
  if (c.args.length % 2 === 0) return errorReply("ERR syntax error");
  for (let j = 1; j < c.args.length; j += 2) {
    const opt = c.arg(j).toLowerCase();
    if (opt === "listening-port") {
      if (parseInteger(c.arg(j + 1)) === undefined) return errorReply(NOT_INTEGER);
    } else if (opt === "ack" || opt === "getack") {
      return NOTHING;
    } else if (
      opt !== "capa" &&
      !(opt === "ip-address" && c.era.at("4.0")) &&
      !(opt === "rdb-only" && c.era.at("7.0"))
    ) {
      return errorReply(`ERR Unrecognized REPLCONF option: ${c.arg(j)}`);
    }
  }
  return OK;
}

/** The RDB a master makes for a new replica: the session's databases, the version's format. */
function replicaRdb(c: CommandContext): Buffer {
  const dbs: RdbDatabase[] = [];
  for (let db = 0; db < DATABASES; db++) dbs.push({ db, keys: c.keyspace.entries(db) });
  const era = c.era;
  return rdbFile(dbs, {
    era,
    version: era.version,
    verName: era.valkey8 ? "valkey-ver" : "redis-ver",
    ctimeSeconds: Math.floor(c.now() / 1000),
    usedMem: 866_000 + c.keyspace.bytes,
    repl: { streamDb: 0, replid: c.state.replication.replid, offset: 0 },
  });
}

/** SYNC and PSYNC (syncCommand): a full resynchronisation, whatever the replica asked. */
function sync(c: CommandContext): Reply {
  if (c.state.syncedReplica) return NOTHING;
  if (c.state.replication.master !== undefined) {
    return errorReply("NOMASTERLINK Can't SYNC while not connected with my master");
  }
  const rdb = replicaRdb(c);
  if (!c.replyFits(rdb.length + 128)) return c.overLimit();
  c.state.syncedReplica = true;
  c.effect = { kind: "sync", rdbBytes: rdb.length };
  const head = c.fullName === "psync" ? `+FULLRESYNC ${c.state.replication.replid} 0\r\n` : "";
  return {
    type: "raw",
    bytes: Buffer.concat([Buffer.from(`${head}$${rdb.length}\r\n`, "latin1"), rdb]),
  };
}

/**
 * FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (6.2+, failoverCommand): a persona has
 * no replicas, so after the options are read it is refused as such a master refuses it (or as
 * a replica, once SLAVEOF made the session one); ABORT finds no failover to abort.
 */
function failover(c: CommandContext): Reply {
  if (c.args.length === 2 && c.arg(1).toLowerCase() === "abort") {
    return errorReply("ERR No failover in progress.");
  }
  let timeout = 0n;
  let host: string | undefined;
  let force = false;
  for (let j = 1; j < c.args.length; j++) {
    const opt = c.arg(j).toLowerCase();
    if (opt === "timeout" && j + 1 < c.args.length && timeout === 0n) {
      const n = parseInt64(c.arg(j + 1));
      if (n === undefined) return errorReply(NOT_INTEGER);
      if (n <= 0n) return errorReply("ERR FAILOVER timeout must be greater than 0");
      timeout = n;
      j++;
    } else if (opt === "to" && j + 2 < c.args.length && host === undefined) {
      if (parseInt64(c.arg(j + 2)) === undefined) return errorReply(NOT_INTEGER);
      host = c.arg(j + 1);
      j += 2;
    } else if (opt === "force" && !force) {
      force = true;
    } else {
      return syntaxError();
    }
  }
  if (c.state.replication.master !== undefined) {
    return errorReply("ERR FAILOVER is not valid when server is a replica.");
  }
  return errorReply("ERR FAILOVER requires connected replicas.");
}

export const REPLICATION_COMMANDS: CommandSpec[] = inCategory("admin", [
  { name: "slaveof", arity: 3, handler: replicaof },
  { name: "replicaof", arity: 3, since: "5.0", handler: replicaof },
  { name: "role", arity: 1, since: "2.8.12", handler: role },
  { name: "replconf", arity: -1, handler: replconf },
  { name: "sync", arity: 1, handler: sync },
  {
    name: "psync",
    arity: [
      ["2.8", 3],
      ["7.0", -3],
    ],
    since: "2.8",
    handler: sync,
  },
  { name: "failover", arity: -1, since: "6.2", handler: failover },
  {
    name: "wait",
    arity: 3,
    since: "3.0",
    handler: (c) => {
      const replicas = parseInteger(c.arg(1));
      const timeout = parseInteger(c.arg(2));
      if (replicas === undefined || timeout === undefined) return errorReply(NOT_INTEGER);
      if (timeout < 0) return errorReply("ERR timeout is negative");
      return integer(0);
    },
  },
]);
