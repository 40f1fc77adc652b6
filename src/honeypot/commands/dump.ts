/**
 * DUMP and RESTORE (cluster.c; migrate.c in 2.8): a value in RDB form and back, through the one
 * RDB encoder (rdb.ts), so DUMP's bytes are the real server's for the same value and encoding
 * and RESTORE takes a real server's payload. RESTORE's options and errors as the version has
 * them: 2.8 takes no option and calls an existing key "busy"; 3.0 adds REPLACE and -BUSYKEY;
 * 5.0 ABSTTL, IDLETIME and FREQ.
 */
import { bulk } from "../../resp/index.js";
import { dumpPayload, readDump, verifyDump } from "../rdb.js";
import { intArg } from "./integers.js";
import {
  errorReply,
  notInteger,
  nullBulk,
  OK,
  outOfMemory,
  type Reply,
  syntaxError,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

function dump(c: CommandContext): Reply {
  const value = c.keyspace.lookup(c.state.db, c.arg(1));
  if (value === undefined) return nullBulk();
  // A string kept as a prefix cannot be dumped whole: its payload would be another value's.
  if (value.type === "string" && value.length !== undefined) return nullBulk();
  // Streams are not encoded (rdb.ts): DUMP answers as for a missing key.
  if (value.type === "stream") return nullBulk();
  const payload = dumpPayload(value, c.era);
  if (!c.replyFits(payload.length + 16)) return c.overLimit();
  return bulk(payload);
}

function restore(c: CommandContext): Reply {
  const db = c.state.db;
  const key = c.arg(1);
  let replace = false;
  let absttl = false;
  let idle = -1;
  let freq = -1;
  for (let j = 4; j < c.args.length; j++) {
    const opt = c.arg(j).toLowerCase();
    const more = c.args.length - j - 1;
    const modern = c.era.at("5.0");
    if (opt === "replace") replace = true;
    else if (modern && opt === "absttl") absttl = true;
    else if (modern && opt === "idletime" && more >= 1 && freq === -1) {
      const n = intArg(c, ++j);
      if (n === undefined) return notInteger();
      if (n < 0) return errorReply("ERR Invalid IDLETIME value, must be >= 0");
      idle = n;
    } else if (modern && opt === "freq" && more >= 1 && idle === -1) {
      const n = intArg(c, ++j);
      if (n === undefined) return notInteger();
      if (n < 0 || n > 255) return errorReply("ERR Invalid FREQ value, must be >= 0 and <= 255");
      freq = n;
    } else return syntaxError();
  }
  if (!replace && c.keyspace.exists(db, key)) {
    return errorReply(
      c.era.at("3.0") ? "BUSYKEY Target key name already exists." : "ERR Target key name is busy.",
    );
  }
  const ttl = intArg(c, 2);
  if (ttl === undefined) return notInteger();
  if (ttl < 0) return errorReply("ERR Invalid TTL value, must be >= 0");
  // A payload longer than the request reader keeps cannot be checked: its CRC is not seen.
  const payload = c.args[3]!;
  if (c.argLength(3) !== payload.length || !verifyDump(payload, c.era)) {
    return errorReply("ERR DUMP payload version or checksum are wrong");
  }
  const value = readDump(payload, c.era);
  if (value === undefined) return errorReply("ERR Bad data format");
  const deleted = replace && c.keyspace.delete(db, key);
  let expiresAt: number | undefined;
  if (ttl > 0) expiresAt = absttl ? ttl : c.now() + ttl;
  if (expiresAt !== undefined && c.era.at("5.0") && expiresAt <= c.now()) {
    // Already expired (checkAlreadyExpired): +OK, and only the REPLACE's delete happened.
    if (deleted) wrote(c);
    return OK;
  }
  if (!c.keyspace.put(db, key, value, expiresAt)) return outOfMemory();
  wrote(c);
  return OK;
}

export const DUMP_COMMANDS: CommandSpec[] = inCategory("keyspace", [
  { name: "dump", arity: 2, handler: dump },
  {
    name: "restore",
    arity: [
      ["2.6", 4],
      ["3.0", -4],
    ],
    flags: ["write", "denyoom"],
    handler: restore,
  },
]);
