/**
 * Replies as the session builds them: the project's RESP values (written by encodeValue in the
 * client's protocol), plus raw bytes for what encodeValue would change — errors, whose text may
 * echo a client's bytes (kept byte for byte as latin1, CR/LF mapped to spaces as Redis does),
 * and RESP2/RESP3 shapes that differ beyond what encodeValue's downgrade does.
 */
import { arr, bulk, encodeValue, int, map, nil, simple } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { NOT_INTEGER, OOM, SYNTAX_ERROR, WRONGTYPE } from "../personas/texts.js";

export type Reply = RespValue | { type: "raw"; bytes: Buffer };

export function encodeReply(reply: Reply, proto: 2 | 3): Buffer {
  switch (reply.type) {
    case "raw":
      return reply.bytes;
    // The replies almost every command ends with, written directly (same bytes in RESP2 and
    // RESP3): status lines from a small cache, integers, and bulk strings in one allocation.
    case "simple": {
      let bytes = SIMPLE_CACHE.get(reply.value);
      if (bytes === undefined) {
        bytes = encodeValue(reply, proto);
        if (SIMPLE_CACHE.size < SIMPLE_CACHE_MAX && reply.value.length <= 32) {
          SIMPLE_CACHE.set(reply.value, bytes);
        }
      }
      return bytes;
    }
    case "integer":
      return Buffer.from(`:${reply.value}\r\n`, "latin1");
    case "null":
      return proto === 3 ? NULL3 : NULL_BULK;
    case "bulk": {
      const v = reply.value;
      if (v === null) return NULL_BULK;
      const head = `$${v.length}\r\n`;
      const out = Buffer.allocUnsafe(head.length + v.length + 2);
      out.write(head, 0, "latin1");
      v.copy(out, head.length);
      out[out.length - 2] = 0x0d;
      out[out.length - 1] = 0x0a;
      return out;
    }
    default:
      break;
  }
  return encodeValue(reply, proto);
}

/** RESP2's null bulk string and RESP3's null, as encodeValue writes them (shared, read-only). */
const NULL_BULK = Buffer.from("$-1\r\n");
const NULL3 = Buffer.from("_\r\n");

/** Encoded status lines (`+OK`, `+PONG`, `+QUEUED` …): shared, never written to. */
const SIMPLE_CACHE = new Map<string, Buffer>();
const SIMPLE_CACHE_MAX = 64;

/** `-<text>\r\n`, text as latin1 bytes; CR and LF become spaces (addReplyError's sdsmapchars). */
export function errorReply(text: string): Reply {
  return { type: "raw", bytes: Buffer.from(`-${text.replace(/[\r\n]/g, " ")}\r\n`, "latin1") };
}

// The errors many commands share (texts in personas/texts.ts).

/** Options a command does not take, or in an order it refuses. */
export function syntaxError(): Reply {
  return errorReply(SYNTAX_ERROR);
}

/** A key holding another type than the command works on. */
export function wrongType(): Reply {
  return errorReply(WRONGTYPE);
}

export function notInteger(): Reply {
  return errorReply(NOT_INTEGER);
}

/** A write that would take the session's keyspace past its cap. */
export function outOfMemory(): Reply {
  return errorReply(OOM);
}

export function isError(reply: Reply): boolean {
  return reply.type === "error" || (reply.type === "raw" && reply.bytes[0] === 0x2d);
}

/** The error code (first word) of an error reply, for INFO errorstats. */
export function errorCode(reply: Reply): string | undefined {
  if (reply.type === "error") return reply.value.split(" ", 1)[0];
  if (reply.type === "raw" && reply.bytes[0] === 0x2d) {
    const text = reply.bytes.toString("latin1", 1, Math.min(reply.bytes.length, 64));
    return /^[^ \r]+/.exec(text)?.[0];
  }
  return undefined;
}

export const OK = simple("OK");
export const EMPTY_ARRAY = arr([]);

/** A bulk string of latin1 text (keys and members, kept as one character per byte). */
export function bulkText(text: string): RespValue {
  return bulk(Buffer.from(text, "latin1"));
}

/** Null bulk: `$-1` in RESP2, `_` in RESP3. */
export function nullBulk(): RespValue {
  return nil();
}

/** Null array: `*-1` in RESP2, `_` in RESP3 (LPOP key count on a missing key). */
export function nullArray(proto: 2 | 3): RespValue {
  return proto === 3 ? nil() : arr(null);
}

export function integer(n: number): RespValue {
  return int(n);
}

export function textArray(items: readonly string[]): RespValue {
  return arr(items.map(bulkText));
}

/** A map in RESP3 (`%`), a flat array in RESP2. */
export function pairsMap(pairs: ReadonlyArray<[string, RespValue]>): RespValue {
  return map(pairs.map(([k, v]): [RespValue, RespValue] => [bulkText(k), v]));
}

/**
 * A map (RESP3 `%`, RESP2's flat array of pairs) whose values may be raw replies (a C double
 * written by addReplyDouble, a nested map of them): MEMORY STATS.
 */
export function replyPairs(pairs: ReadonlyArray<[string, Reply]>, proto: 2 | 3): Reply {
  const parts: Buffer[] = [
    Buffer.from(proto === 3 ? `%${pairs.length}\r\n` : `*${pairs.length * 2}\r\n`, "latin1"),
  ];
  for (const [k, v] of pairs) {
    parts.push(encodeReply(bulkText(k), proto), encodeReply(v, proto));
  }
  return { type: "raw", bytes: Buffer.concat(parts) };
}
