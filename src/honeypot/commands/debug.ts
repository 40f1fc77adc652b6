/**
 * DEBUG (debug.c), as each version's debugCommand answers it, without doing anything a debug
 * command does to a server: SLEEP does not stop the honeypot, RELOAD and LOADAOF load nothing,
 * LEAK keeps nothing, and what crashes a real server (SEGFAULT, PANIC, ASSERT, OOM, RESTART,
 * CRASH-AND-RECOVER) closes the connection without a reply, as the crash would. DIGEST and
 * DIGEST-VALUE are Redis's own SHA1 mix of the values (xorObjectDigest, computeDatasetDigest),
 * DEBUG OBJECT its `Value at:…` line with the RDB length of the value (rdb.ts) and, for a
 * quicklist, its node figures.
 *
 * 7.0+ refuses DEBUG unless enable-debug-command allows it (the session's gate); before 7.0
 * every server answers it. HELP is not answered here yet (an unknown subcommand).
 */
import { createHash } from "node:crypto";
import { arr, simple } from "../../resp/index.js";
import type { RedisValue } from "../keyspace.js";
import { DATABASES } from "../keyspace.js";
import type { Era } from "../personas/era.js";
import { NO_SUCH_KEY, subcommandArgumentsText } from "../personas/texts.js";
import {
  dumpPayload,
  listpack,
  savedLenLength,
  savedStringLength,
  ZIPLIST_OVERHEAD,
  ziplist,
  ziplistEntry,
} from "../rdb.js";
import { U64_MAX } from "../stream.js";
import { d2string, formatG17 } from "./doubles.js";
import { encodingOf } from "./encoding.js";
import { parseInt64 } from "./integers.js";
import { errorReply, OK, type Reply } from "./reply.js";
import type { CommandContext } from "./spec.js";

// ---- the digest (debug.c) ----

function sha1(data: Buffer): Buffer {
  return createHash("sha1").update(data).digest();
}

/** xorDigest: digest ^= SHA1(data). */
function xorDigest(digest: Buffer, data: Buffer): void {
  const h = sha1(data);
  for (let i = 0; i < 20; i++) digest[i]! ^= h[i]!;
}

/** mixDigest: digest = SHA1(digest ^ SHA1(data)), so the order of what is mixed matters. */
function mixDigest(digest: Buffer, data: Buffer): void {
  xorDigest(digest, data);
  sha1(digest).copy(digest);
}

const latin1 = (s: string): Buffer => Buffer.from(s, "latin1");

/** The text of a score as this version's digest prints it (%.17g, fpconv_dtoa from 7.2). */
function digestScore(era: Era, x: number): string {
  return era.at("7.2") ? d2string(x) : formatG17(x);
}

/** xorObjectDigest: the value's digest mixed into `digest` (a key's, zeroed by the caller). */
export function xorObjectDigest(era: Era, digest: Buffer, o: RedisValue, expires: boolean): void {
  const OBJ_TYPE = { string: 0, list: 1, set: 2, zset: 3, hash: 4, stream: 6 } as const;
  const aux = Buffer.alloc(4);
  aux.writeUInt32BE(OBJ_TYPE[o.type]);
  mixDigest(digest, aux);
  switch (o.type) {
    case "string":
      mixDigest(digest, o.value);
      break;
    case "list":
      for (const e of o.value) mixDigest(digest, e);
      break;
    case "set":
      for (const m of o.value) xorDigest(digest, latin1(m));
      break;
    case "zset":
      for (const [m, score] of o.value.scores) {
        const ele = Buffer.alloc(20);
        mixDigest(ele, latin1(m));
        mixDigest(ele, latin1(digestScore(era, score)));
        xorDigest(digest, ele);
      }
      break;
    case "hash":
      for (const [f, v] of o.value) {
        const ele = Buffer.alloc(20);
        mixDigest(ele, latin1(f));
        mixDigest(ele, v);
        xorDigest(digest, ele);
      }
      break;
    case "stream":
      for (const e of o.value.entries) {
        mixDigest(digest, latin1(`${e.id >> 64n}.${e.id & U64_MAX}`));
        for (const part of e.fields) mixDigest(digest, part);
      }
      break;
  }
  if (expires) xorDigest(digest, latin1("!!expire!!"));
}

function hex(digest: Buffer): string {
  return digest.toString("hex");
}

/** computeDatasetDigest: every database's keys, 40 zeros for an empty dataset. */
function datasetDigest(c: CommandContext): string {
  const final = Buffer.alloc(20);
  for (let db = 0; db < DATABASES; db++) {
    if (c.keyspace.size(db) === 0) continue;
    const aux = Buffer.alloc(4);
    aux.writeUInt32BE(db);
    mixDigest(final, aux);
    for (const { key, value, expiresAt } of c.keyspace.entries(db)) {
      const digest = Buffer.alloc(20);
      mixDigest(digest, latin1(key));
      xorObjectDigest(c.era, digest, value, expiresAt !== undefined);
      xorDigest(final, digest);
    }
  }
  return hex(final);
}

/** DEBUG DIGEST-VALUE key …: one digest per key, 40 zeros for a missing one. */
function digestValues(c: CommandContext): Reply {
  const out = [];
  for (let i = 2; i < c.args.length; i++) {
    const digest = Buffer.alloc(20);
    const key = c.arg(i);
    const value = c.keyspace.lookup(c.state.db, key);
    if (value !== undefined) {
      xorObjectDigest(c.era, digest, value, c.keyspace.hasExpiry(c.state.db, key));
    }
    out.push(simple(hex(digest)));
  }
  return arr(out);
}

// ---- DEBUG OBJECT ----

/** quicklist's optimization_level for fill -1 … -5, and its SIZE_SAFETY_LIMIT. */
const FILL_BYTES = [4096, 8192, 16384, 32768, 65536];
const SIZE_SAFETY_LIMIT = 8192;

/**
 * The nodes of the quicklist a list pushed element by element makes (_quicklistNodeAllowInsert:
 * the node's ziplist size plus an estimate of the new entry). 7.0's listpack nodes are cut by
 * the same rule here, an approximation.
 */
function quicklistNodes(fill: number, list: readonly Buffer[]): Buffer[][] {
  const nodes: Array<{ items: Buffer[]; sz: number; last: number }> = [];
  for (const e of list) {
    const sz = e.length;
    const overhead = (sz < 254 ? 1 : 5) + (sz < 64 ? 1 : sz < 16384 ? 2 : 5);
    const node = nodes[nodes.length - 1];
    let fits = false;
    if (node !== undefined) {
      const next = node.sz + sz + overhead;
      if (fill < 0) fits = next <= (FILL_BYTES[Math.min(-fill, 5) - 1] ?? 8192);
      else fits = next <= SIZE_SAFETY_LIMIT && node.items.length < fill;
    }
    if (node !== undefined && fits) {
      const bytes = ziplistEntry(node.last, e).length;
      node.items.push(e);
      node.sz += bytes;
      node.last = bytes;
    } else {
      const bytes = ziplistEntry(0, e).length;
      nodes.push({ items: [e], sz: ZIPLIST_OVERHEAD + bytes, last: bytes });
    }
  }
  return nodes.map((n) => n.items);
}

/**
 * A list's serializedlength (before 7.0 the RDB holds its ziplists, each an RDB string,
 * LZF-compressed where that saves room) and DEBUG OBJECT's quicklist figures.
 */
function listFigures(
  c: CommandContext,
  list: readonly Buffer[],
  encoding: string,
): { serialized?: number; extra: string } {
  if (encoding === "ziplist") return { serialized: savedStringLength(ziplist(list)), extra: "" };
  if (encoding !== "quicklist") return { extra: "" };
  const packs = c.era.at("7.0");
  const fill = Number(
    c.state.config.get(packs ? "list-max-listpack-size" : "list-max-ziplist-size") ?? -2,
  );
  const depth = Number(c.state.config.get("list-compress-depth") ?? 0);
  const nodes = quicklistNodes(fill, list).map((n) => (packs ? listpack(n) : ziplist(n)));
  const total = nodes.reduce((n, z) => n + z.length, 0);
  const avg = (list.length / nodes.length).toFixed(2);
  const extra =
    ` ql_nodes:${nodes.length} ql_avg_node:${avg} ${packs ? "ql_listpack_max" : "ql_ziplist_max"}:${fill}` +
    ` ql_compressed:${depth !== 0 ? 1 : 0} ql_uncompressed_size:${total}`;
  if (packs) return { extra };
  const serialized =
    savedLenLength(nodes.length) + nodes.reduce((n, z) => n + savedStringLength(z), 0);
  return { serialized, extra };
}

/**
 * rdbSavedObjectLen from DUMP's payload (less the type byte, RDB version and CRC). rdb.ts writes
 * no streams and the keyspace keeps only the head of a huge string: for those, an estimate
 * (the string stored plain, the stream's charged bytes).
 */
function serializedLength(c: CommandContext, value: RedisValue): number {
  if (value.type === "stream") return value.bytes;
  if (value.type === "string" && value.length !== undefined) {
    return savedLenLength(value.length) + value.length;
  }
  return dumpPayload(value, c.era).length - 11;
}

function debugObject(c: CommandContext): Reply {
  const key = c.arg(2);
  const value = c.keyspace.lookup(c.state.db, key);
  if (value === undefined) return errorReply(NO_SUCH_KEY);
  const encoding = encodingOf(c, key) ?? "raw";
  // rdbSavedObjectLen: the value as RDB writes it, without its type byte (DUMP's payload less
  // the type, the RDB version and the CRC); lists before 7.0 as their ziplists.
  const list = value.type === "list" ? listFigures(c, value.value, encoding) : undefined;
  const serialized = list?.serialized ?? serializedLength(c, value);
  const extra = list?.extra ?? "";
  const lru = Math.floor(c.now() / 1000) & 0xffffff;
  // A heap address as a glibc build prints it (%p), the same for the key while it lives.
  const at = `55${sha1(latin1(key)).toString("hex").slice(0, 9)}0`;
  return simple(
    `Value at:0x${at} ` +
      `refcount:1 encoding:${encoding} serializedlength:${serialized} lru:${lru} ` +
      `lru_seconds_idle:0${extra}`,
  );
}

// ---- the command ----

/** What crashes or restarts a real server: the connection ends without a reply. */
function crash(c: CommandContext): Reply {
  c.close = true;
  return { type: "raw", bytes: Buffer.alloc(0) };
}

/** DEBUG ERROR text: the text as an error line, CR and LF made spaces (no ERR prefix). */
function debugError(c: CommandContext): Reply {
  return {
    type: "raw",
    bytes: Buffer.concat([latin1("-"), latin1(c.arg(2).replace(/[\r\n]/g, " ")), latin1("\r\n")]),
  };
}

function unknown(c: CommandContext): Reply {
  const sub = c.arg(1);
  if (c.era.before("5.0")) {
    const nul = sub.indexOf("\0");
    const shown = nul === -1 ? sub : sub.slice(0, nul);
    return errorReply(`ERR Unknown DEBUG subcommand or wrong number of arguments for '${shown}'`);
  }
  return errorReply(subcommandArgumentsText(c.era, "debug", sub));
}

/** DEBUG RELOAD's options (6.0+); before, any further word was ignored. */
function reload(c: CommandContext): Reply {
  if (c.era.at("6.0")) {
    for (let j = 2; j < c.args.length; j++) {
      const opt = c.arg(j).toUpperCase();
      if (opt !== "MERGE" && opt !== "NOFLUSH" && opt !== "NOSAVE") {
        return errorReply("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
      }
    }
  }
  return OK;
}

/** DEBUG <subcommand> …: its spec is in server.ts, among the server commands. */
export function debug(c: CommandContext): Reply {
  const argc = c.args.length;
  // 3.2 and 4.0 took DEBUG alone (arity -1) to say this.
  if (argc === 1) {
    return errorReply("ERR You must specify a subcommand for DEBUG. Try DEBUG HELP for info.");
  }
  const sub = c.arg(1).toLowerCase();
  const era = c.era;
  switch (sub) {
    case "segfault":
    case "oom":
    case "assert":
      return crash(c);
    case "panic":
      return era.at("4.0") ? crash(c) : unknown(c);
    case "restart":
    case "crash-and-recover":
      if (era.before("3.2")) return unknown(c);
      if (argc >= 3 && parseInt64(c.arg(2)) === undefined) {
        return errorReply("ERR value is not an integer or out of range");
      }
      return crash(c);
    case "reload":
      return reload(c);
    case "object":
      return argc === 3 ? debugObject(c) : unknown(c);
    case "digest":
      return argc === 2 ? simple(datasetDigest(c)) : unknown(c);
    case "digest-value":
      return era.at("5.0") ? digestValues(c) : unknown(c);
    case "sleep":
      // Redis sleeps (strtod of the argument); the honeypot answers at once.
      return argc === 3 ? OK : unknown(c);
    case "set-active-expire":
      return argc === 3 ? OK : unknown(c);
    case "log":
      return argc === 3 && era.at("5.0") ? OK : unknown(c);
    case "leak":
      return argc === 3 && era.at("6.0") ? OK : unknown(c);
    case "aof-flush-sleep":
      return argc === 3 && era.at("6.0") ? OK : unknown(c);
    case "lua-always-replicate-commands":
      return argc === 3 && era.at("3.2") && era.before("7.0") ? OK : unknown(c);
    case "error":
      return argc === 3 ? debugError(c) : unknown(c);
    default:
      return unknown(c);
  }
}
