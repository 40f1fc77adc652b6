/**
 * Replication commands (replication.c): SLAVEOF / REPLICAOF, ROLE, WAIT. SLAVEOF opens no
 * connection here: the session becomes a read-only replica of the master it names, and the
 * effect carries host and port to the server (which follows it only when the operator enabled
 * payload capture).
 */
import { createHash } from "node:crypto";
import { arr, bulk, int, simple } from "../../resp/index.js";
import { NOT_INTEGER } from "../personas/texts.js";
import { parseInteger } from "./integers.js";
import { bulkText, EMPTY_ARRAY, errorReply, integer, OK, type Reply } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory } from "./spec.js";

function replicaof(c: CommandContext): Reply {
  const host = c.arg(1);
  const portText = c.arg(2);
  const r = c.state.replication;
  if (host.toLowerCase() === "no" && portText.toLowerCase() === "one") {
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
  r.master = { host, port: port! };
  c.effect = { kind: "replicaof", host, port: port! };
  return OK;
}

function role(c: CommandContext): Reply {
  const master = c.state.replication.master;
  if (master === undefined) return arr([bulk("master"), int(0), EMPTY_ARRAY]);
  return arr([bulk("slave"), bulkText(master.host), int(master.port), bulk("connect"), int(-1)]);
}

export const REPLICATION_COMMANDS: CommandSpec[] = inCategory("admin", [
  { name: "slaveof", arity: 3, handler: replicaof },
  { name: "replicaof", arity: 3, since: "5.0", handler: replicaof },
  { name: "role", arity: 1, since: "2.8.12", handler: role },
  {
    name: "wait",
    arity: 3,
    handler: (c) => {
      const replicas = parseInteger(c.arg(1));
      const timeout = parseInteger(c.arg(2));
      if (replicas === undefined || timeout === undefined) return errorReply(NOT_INTEGER);
      if (timeout < 0) return errorReply("ERR timeout is negative");
      return integer(0);
    },
  },
]);
