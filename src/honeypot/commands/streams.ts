/**
 * Stream commands (t_stream.c), 5.0+: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XREAD (with
 * BLOCK), XSETID, and consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM,
 * XINFO. Replies and errors as Redis 7.0 words them, with the earlier forms where a version
 * differs (`ms-*` IDs and the 7.0 counters from 7.0, exclusive ranges, MINID, LIMIT and
 * NOMKSTREAM from 6.2). The stream value is stream.ts's; its size is charged to the keyspace.
 */
import { arr, bulk, map, nil } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { WRONG_TYPE } from "../keyspace.js";
import { arityText, NO_SUCH_KEY, NOT_INTEGER } from "../personas/texts.js";
import {
  appendEntry,
  byId,
  deleteEntry,
  distanceFromFirst,
  entryBytes,
  findEntry,
  formatId,
  groupLag,
  ID_MAX,
  idMs,
  idSeq,
  lastValidId,
  lowerBound,
  makeId,
  rangeHasTombstones,
  raxOrder,
  refreshFirst,
  type StreamConsumer,
  type StreamEntry,
  type StreamGroup,
  type StreamId,
  type StreamNack,
  type StreamValue,
  type TrimArgs,
  trim,
  U64_MAX,
} from "../stream.js";
import { parseInt64 } from "./integers.js";
import {
  bulkText,
  EMPTY_ARRAY,
  errorReply,
  integer,
  nullArray,
  nullBulk,
  OK,
  outOfMemory,
  type Reply,
  syntaxError,
  wrongType,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";
import { timeoutArg } from "./timeout.js";

const INVALID_ID = "ERR Invalid stream ID specified as stream command argument";

/** Bytes charged for a group, a consumer, a pending entry (beside their names). */
const GROUP_BYTES = 64;
const CONSUMER_BYTES = 48;
const NACK_BYTES = 40;

class StreamError {
  constructor(readonly reply: Reply) {}
}

function fail(text: string): never {
  throw new StreamError(errorReply(text));
}

/** Run a handler; a StreamError thrown is its reply. */
function guarded(handler: (c: CommandContext) => Reply) {
  return (c: CommandContext): Reply => {
    try {
      return handler(c);
    } catch (e) {
      if (e instanceof StreamError) return e.reply;
      throw e;
    }
  };
}

/** strtoull as string2ull takes it: digits only, within 64 bits. */
function parseU64(text: string): bigint | undefined {
  if (!/^[0-9]{1,20}$/.test(text)) return undefined;
  const n = BigInt(text);
  return n > U64_MAX ? undefined : n;
}

interface ParsedId {
  id: StreamId;
  /** False for `ms-*` (7.0+, XADD only). */
  seqGiven: boolean;
}

/**
 * streamGenericParseIDOrReply: `-`, `+` (unless strict), `ms`, `ms-seq`, and with `allowStar`
 * `ms-*` (7.0+). A missing seq is `missingSeq`.
 */
function parseId(
  c: CommandContext,
  text: string,
  missingSeq: bigint,
  strict: boolean,
  allowStar = false,
): ParsedId {
  if (text.length > 127) fail(INVALID_ID);
  if (strict && (text === "-" || text === "+")) fail(INVALID_ID);
  if (text === "-") return { id: 0n, seqGiven: true };
  if (text === "+") return { id: ID_MAX, seqGiven: true };
  const dash = text.indexOf("-");
  const msText = dash < 0 ? text : text.slice(0, dash);
  const ms = parseU64(msText);
  if (ms === undefined) fail(INVALID_ID);
  if (dash < 0) return { id: makeId(ms, missingSeq), seqGiven: true };
  const seqText = text.slice(dash + 1);
  if (allowStar && seqText === "*" && c.era.at("7.0"))
    return { id: makeId(ms, 0n), seqGiven: false };
  const seq = parseU64(seqText);
  if (seq === undefined) fail(INVALID_ID);
  return { id: makeId(ms, seq), seqGiven: true };
}

/** An interval bound: `(id` exclusive from 6.2 (then strict), else as parseId. */
function parseBound(
  c: CommandContext,
  text: string,
  missingSeq: bigint,
): { id: StreamId; exclusive: boolean } {
  if (c.era.at("6.2") && text.length > 1 && text[0] === "(") {
    return { id: parseId(c, text.slice(1), missingSeq, true).id, exclusive: true };
  }
  return { id: parseId(c, text, missingSeq, false).id, exclusive: false };
}

function startBound(c: CommandContext, text: string): StreamId {
  const b = parseBound(c, text, 0n);
  if (!b.exclusive) return b.id;
  if (b.id === ID_MAX) fail("ERR invalid start ID for the interval");
  return b.id + 1n;
}

function endBound(c: CommandContext, text: string): StreamId {
  const b = parseBound(c, text, U64_MAX);
  if (!b.exclusive) return b.id;
  if (b.id === 0n) fail("ERR invalid end ID for the interval");
  return b.id - 1n;
}

function int64(c: CommandContext, i: number, message?: string): bigint {
  const n = parseInt64(c.arg(i));
  if (n === undefined) fail(message === undefined ? NOT_INTEGER : `ERR ${message}`);
  return n;
}

function idReply(id: StreamId): RespValue {
  return bulkText(formatId(id));
}

function entryReply(e: StreamEntry): RespValue {
  return arr([idReply(e.id), arr(e.fields.map((f) => bulk(f)))]);
}

/** The stream at key for reading: undefined if none; WRONGTYPE thrown. */
function readStream(c: CommandContext, key: string): StreamValue | undefined {
  const s = c.keyspace.getStream(c.state.db, key);
  if (s === WRONG_TYPE) throw new StreamError(wrongType());
  return s;
}

/** Charge the keyspace for growth of the stream at key; OOM thrown when refused. */
function charge(c: CommandContext, key: string, bytes: number, elements: number): void {
  if (!c.keyspace.resize(c.state.db, key, bytes, elements)) throw new StreamError(outOfMemory());
}

function release(c: CommandContext, key: string, bytes: number, elements: number): void {
  c.keyspace.resize(c.state.db, key, -bytes, -elements);
}

function entryCost(e: { fields: Buffer[] }): number {
  return entryBytes(e.fields);
}

// ---- XADD / XTRIM ----

/** Whether a node's size check adds the new entry's bytes (the 2021 fixes: 5.0.14, 6.0.16, 6.2.6). */
function countsNewBytes(c: CommandContext): boolean {
  const e = c.era;
  if (e.at("6.2")) return e.at("6.2.6");
  if (e.at("6.0")) return e.at("6.0.16");
  return e.at("5.0.14");
}

interface AddTrimArgs {
  trim: TrimArgs | undefined;
  noMkStream: boolean;
  id: ParsedId | undefined;
  idPos: number;
}

/** streamParseAddOrTrimArgsOrReply (6.2+), or the MAXLEN [~] form of 5.0–6.0. */
function parseAddOrTrim(c: CommandContext, xadd: boolean): AddTrimArgs {
  const modern = c.era.at("6.2");
  const out: AddTrimArgs = {
    trim: undefined,
    noMkStream: false,
    id: undefined,
    idPos: c.args.length,
  };
  let limitGiven = false;
  let limit = 0n;
  let i = 2;
  for (; i < c.args.length; i++) {
    const more = c.args.length - 1 - i;
    const opt = c.arg(i);
    const lower = opt.toLowerCase();
    if (xadd && opt === "*") break;
    if ((lower === "maxlen" || (lower === "minid" && modern)) && more > 0) {
      if (out.trim !== undefined) {
        fail("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
      }
      // MAXLEN|MINID [~|=] threshold
      const next = c.arg(i + 1);
      let approx = false;
      if (more >= 2 && next === "~") {
        approx = true;
        i++;
      } else if (more >= 2 && next === "=") i++;
      if (lower === "maxlen") {
        const maxlen = int64(c, i + 1);
        if (maxlen < 0n) fail("ERR The MAXLEN argument must be >= 0.");
        out.trim = { strategy: "maxlen", maxlen, minid: 0n, approx, limit: 0n };
      } else {
        const minid = parseId(c, c.arg(i + 1), 0n, true).id;
        out.trim = { strategy: "minid", maxlen: 0n, minid, approx, limit: 0n };
      }
      i++;
    } else if (lower === "limit" && more > 0 && modern) {
      limit = int64(c, i + 1);
      if (limit < 0n) fail("ERR The LIMIT argument must be >= 0.");
      limitGiven = true;
      i++;
    } else if (xadd && lower === "nomkstream" && modern) {
      out.noMkStream = true;
    } else if (xadd) {
      out.id = parseId(c, opt, 0n, true, true);
      break;
    } else {
      fail("ERR syntax error");
    }
  }
  out.idPos = i;
  if (!modern) {
    if (!xadd && out.trim === undefined) fail("ERR syntax error");
    return out;
  }
  if (limit !== 0n && out.trim === undefined) {
    fail("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
  }
  if (!xadd && out.trim === undefined) {
    fail("ERR syntax error, XTRIM must be called with a trimming strategy");
  }
  if (out.trim !== undefined) {
    if (limitGiven) {
      if (!out.trim.approx)
        fail("ERR syntax error, LIMIT cannot be used without the special ~ option");
      out.trim.limit = limit;
    } else if (out.trim.approx) out.trim.limit = 10_000n;
  }
  return out;
}

/** Trim and release what the removed entries were charged. */
function trimAndRelease(c: CommandContext, key: string, s: StreamValue, args: TrimArgs): number {
  const removed = trim(s, args);
  let bytes = 0;
  for (const e of removed) bytes += entryCost(e);
  if (removed.length > 0) release(c, key, bytes, removed.length);
  return removed.length;
}

function xadd(c: CommandContext): Reply {
  const args = parseAddOrTrim(c, true);
  const fieldPos = args.idPos + 1;
  const n = c.args.length - fieldPos;
  if (n < 2 || n % 2 === 1) return errorReply(arityText("xadd"));
  if (args.id?.seqGiven && args.id.id === 0n) {
    return errorReply("ERR The ID specified in XADD must be greater than 0-0");
  }
  const db = c.state.db;
  const key = c.arg(1);
  let s = readStream(c, key);
  let created = false;
  if (s === undefined) {
    if (args.noMkStream) return nullBulk();
    s = c.keyspace.createStream(db, key);
    if (s === undefined) return outOfMemory();
    created = true;
  }
  if (s.lastId === ID_MAX) {
    return errorReply(
      "ERR The stream has exhausted the last possible ID, unable to add more items",
    );
  }
  let id: StreamId;
  if (args.id === undefined) {
    const ms = BigInt(c.now());
    id = ms > idMs(s.lastId) ? makeId(ms, 0n) : s.lastId + 1n;
  } else if (args.id.seqGiven) id = args.id.id;
  else if (idMs(s.lastId) === idMs(args.id.id)) {
    if (idSeq(s.lastId) === U64_MAX) {
      return errorReply(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item",
      );
    }
    id = s.lastId + 1n;
  } else id = args.id.id;
  if (id <= s.lastId) {
    return errorReply(
      "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    );
  }
  const fields = c.args.slice(fieldPos).map((b) => Buffer.from(b));
  if (!c.keyspace.resize(db, key, entryBytes(fields), 1)) {
    // Refused: a stream made for this entry is not left behind empty.
    if (created) c.keyspace.delete(db, key);
    return outOfMemory();
  }
  appendEntry(s, id, fields, countsNewBytes(c));
  wrote(c);
  if (args.trim !== undefined) trimAndRelease(c, key, s, args.trim);
  c.keyspace.blocked.signal(db, key);
  return idReply(id);
}

function xtrim(c: CommandContext): Reply {
  if (c.era.before("6.2")) return legacyXtrim(c);
  const args = parseAddOrTrim(c, false);
  const key = c.arg(1);
  const s = readStream(c, key);
  if (s === undefined) return integer(0);
  const n = trimAndRelease(c, key, s, args.trim!);
  wrote(c, n);
  return integer(n);
}

/** 5.0–6.0: the key first, then MAXLEN [~|=] count only. */
function legacyXtrim(c: CommandContext): Reply {
  const key = c.arg(1);
  const s = readStream(c, key);
  if (s === undefined) return integer(0);
  let args: TrimArgs | undefined;
  for (let i = 2; i < c.args.length; i++) {
    const more = c.args.length - 1 - i;
    if (c.arg(i).toLowerCase() === "maxlen" && more > 0) {
      const next = c.arg(i + 1);
      let approx = false;
      if (more >= 2 && next === "~") {
        approx = true;
        i++;
      } else if (more >= 2 && next === "=") i++;
      const maxlen = int64(c, i + 1);
      if (maxlen < 0n) return errorReply("ERR The MAXLEN argument must be >= 0.");
      i++;
      args = { strategy: "maxlen", maxlen, minid: 0n, approx, limit: 0n };
    } else return syntaxError();
  }
  if (args === undefined)
    return errorReply("ERR XTRIM called without an option to trim the stream");
  const n = trimAndRelease(c, key, s, args);
  wrote(c, n);
  return integer(n);
}

function xlen(c: CommandContext): Reply {
  return integer(readStream(c, c.arg(1))?.entries.length ?? 0);
}

/** Entries from start to end (inclusive), at most count (0: all), forward or back. */
function range(
  s: StreamValue,
  start: StreamId,
  end: StreamId,
  count: number,
  rev: boolean,
): StreamEntry[] {
  const out: StreamEntry[] = [];
  if (start > end) return out;
  if (!rev) {
    for (let i = lowerBound(s, start); i < s.entries.length; i++) {
      const e = s.entries[i]!;
      if (e.id > end) break;
      out.push(e);
      if (count !== 0 && out.length === count) break;
    }
  } else {
    for (let i = lowerBound(s, end + 1n) - 1; i >= 0; i--) {
      const e = s.entries[i]!;
      if (e.id < start) break;
      out.push(e);
      if (count !== 0 && out.length === count) break;
    }
  }
  return out;
}

function xrange(rev: boolean) {
  return (c: CommandContext): Reply => {
    const start = startBound(c, c.arg(rev ? 3 : 2));
    const end = endBound(c, c.arg(rev ? 2 : 3));
    let count = -1n;
    for (let j = 4; j < c.args.length; j++) {
      if (c.arg(j).toLowerCase() === "count" && j < c.args.length - 1) {
        count = int64(c, ++j);
        if (count < 0n) count = 0n;
      } else return syntaxError();
    }
    const s = readStream(c, c.arg(1));
    if (s === undefined) return EMPTY_ARRAY;
    if (count === 0n) return nullArray(c.state.proto);
    const n = count === -1n ? 0 : Number(count > 1_000_000_000n ? 1_000_000_000n : count);
    return arr(range(s, start, end, n, rev).map(entryReply));
  };
}

function xdel(c: CommandContext): Reply {
  const key = c.arg(1);
  const s = readStream(c, key);
  if (s === undefined) return integer(0);
  const ids = c.args.slice(2).map((_, j) => parseId(c, c.arg(j + 2), 0n, true).id);
  let deleted = 0;
  let bytes = 0;
  let first = false;
  for (const id of ids) {
    const e = deleteEntry(s, id);
    if (e === undefined) continue;
    deleted++;
    bytes += entryCost(e);
    if (id === s.firstId) first = true;
  }
  if (deleted > 0) {
    if (s.entries.length === 0) s.firstId = 0n;
    else if (first) refreshFirst(s);
    release(c, key, bytes, deleted);
    wrote(c, deleted);
  }
  return integer(deleted);
}

function xsetid(c: CommandContext): Reply {
  const id = parseId(c, c.arg(2), 0n, true).id;
  let entriesAdded = -1n;
  let maxDeleted = 0n;
  for (let i = 3; i < c.args.length; i += 2) {
    const more = i < c.args.length - 1;
    const opt = c.arg(i).toLowerCase();
    if (opt === "entriesadded" && more && c.era.at("7.0")) {
      entriesAdded = int64(c, i + 1);
      if (entriesAdded < 0n) return errorReply("ERR entries_added must be positive");
    } else if (opt === "maxdeletedid" && more && c.era.at("7.0")) {
      maxDeleted = parseId(c, c.arg(i + 1), 0n, true).id;
      if (id < maxDeleted) {
        return errorReply(
          "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
        );
      }
    } else return syntaxError();
  }
  const s = readStream(c, c.arg(1));
  if (s === undefined) return errorReply(NO_SUCH_KEY);
  if (c.era.at("7.2") && id < s.maxDeletedId) {
    return errorReply(
      "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
    );
  }
  if (s.entries.length > 0) {
    if (id < lastValidId(s)) {
      return errorReply(
        "ERR The ID specified in XSETID is smaller than the target stream top item",
      );
    }
    if (entriesAdded !== -1n && BigInt(s.entries.length) > entriesAdded) {
      return errorReply(
        "ERR The entries_added specified in XSETID is smaller than the target stream length",
      );
    }
  }
  s.lastId = id;
  if (entriesAdded !== -1n) s.entriesAdded = entriesAdded;
  if (maxDeleted !== 0n) s.maxDeletedId = maxDeleted;
  wrote(c);
  return OK;
}

// ---- consumer groups ----

function lookupGroup(s: StreamValue | undefined, name: string): StreamGroup | undefined {
  return s?.groups?.get(name);
}

/** A consumer of the group, created (and charged) if new; seen now. */
function consumerOf(c: CommandContext, key: string, g: StreamGroup, name: string): StreamConsumer {
  let consumer = g.consumers.get(name);
  if (consumer === undefined) {
    charge(c, key, CONSUMER_BYTES + name.length, 1);
    // 7.0+: making a consumer is a write of its own (streamCreateConsumer's dirty++).
    if (c.era.at("7.0")) wrote(c);
    consumer = { name, seenTime: c.now(), pel: new Map() };
    g.consumers.set(name, consumer);
  } else consumer.seenTime = c.now();
  return consumer;
}

/**
 * streamReplyWithRange for a group read of new entries: advances the group's last ID and
 * entries-read, and (unless NOACK) records each entry pending for the consumer.
 */
function readNew(
  c: CommandContext,
  key: string,
  s: StreamValue,
  g: StreamGroup,
  consumer: StreamConsumer,
  start: StreamId,
  count: number,
  noack: boolean,
): RespValue[] {
  const entries = range(s, start, ID_MAX, count, false);
  const out: RespValue[] = [];
  for (const e of entries) {
    if (e.id > g.lastId) {
      if (g.entriesRead !== -1n && !rangeHasTombstones(s, e.id, ID_MAX)) g.entriesRead++;
      else if (s.entriesAdded !== 0n) g.entriesRead = distanceFromFirst(s, e.id);
      g.lastId = e.id;
    }
    out.push(entryReply(e));
    if (noack) continue;
    const now = c.now();
    const old = g.pel.get(e.id);
    if (old === undefined) {
      charge(c, key, NACK_BYTES, 1);
      const nack: StreamNack = { id: e.id, consumer, deliveryTime: now, deliveryCount: 1 };
      g.pel.set(e.id, nack);
      consumer.pel.set(e.id, nack);
    } else {
      old.consumer?.pel.delete(e.id);
      old.consumer = consumer;
      old.deliveryTime = now;
      old.deliveryCount = 1;
      consumer.pel.set(e.id, old);
    }
  }
  return out;
}

/** A consumer's own pending entries from start (XREADGROUP with an ID): deleted ones as nil. */
function readHistory(
  c: CommandContext,
  s: StreamValue,
  consumer: StreamConsumer,
  start: StreamId,
  count: number,
): RespValue[] {
  const out: RespValue[] = [];
  for (const nack of byId(consumer.pel.values())) {
    if (nack.id < start) continue;
    if (count !== 0 && out.length >= count) break;
    const e = findEntry(s, nack.id);
    if (e === undefined) {
      out.push(arr([idReply(nack.id), nullArray(c.state.proto)]));
    } else {
      nack.deliveryTime = c.now();
      nack.deliveryCount++;
      out.push(entryReply(e));
    }
  }
  return out;
}

/** XREAD/XREADGROUP's reply: [[key, entries] …] in RESP2, a map in RESP3. */
function streamsReply(c: CommandContext, results: Array<[string, RespValue[]]>): Reply {
  if (c.state.proto === 3) {
    return map(results.map(([k, v]): [RespValue, RespValue] => [bulkText(k), arr(v)]));
  }
  return arr(results.map(([k, v]) => arr([bulkText(k), arr(v)])));
}

function xread(group: boolean) {
  return (c: CommandContext): Reply => {
    let timeout = -1;
    let count = 0n;
    let streamsAt = 0;
    let groupName: string | undefined;
    let consumerName = "";
    let noack = false;
    const argc = c.args.length;
    for (let i = 1; i < argc; i++) {
      const more = argc - i - 1;
      const o = c.arg(i).toLowerCase();
      if (o === "block" && more > 0) {
        i++;
        const t = timeoutArg(c, i, "milliseconds");
        if (typeof t !== "number") return errorReply(t.error);
        timeout = t;
      } else if (o === "count" && more > 0) {
        count = int64(c, ++i);
        if (count < 0n) count = 0n;
      } else if (o === "streams" && more > 0) {
        streamsAt = i + 1;
        if ((argc - streamsAt) % 2 !== 0) {
          return errorReply(
            "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
          );
        }
        break;
      } else if (o === "group" && more >= 2) {
        if (!group) {
          return errorReply(
            "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
          );
        }
        groupName = c.arg(i + 1);
        consumerName = c.arg(i + 2);
        i += 2;
      } else if (o === "noack") {
        if (!group) {
          return errorReply(
            "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
          );
        }
        noack = true;
      } else return syntaxError();
    }
    if (streamsAt === 0) return syntaxError();
    if (group && groupName === undefined)
      return errorReply("ERR Missing GROUP option for XREADGROUP");
    const n = (argc - streamsAt) / 2;
    const keys = c.args.slice(streamsAt, streamsAt + n).map((a) => a.toString("latin1"));
    /** Per key: the ID entries must be greater than; ID_MAX: `>`. */
    const ids: StreamId[] = [];
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      const s = readStream(c, key);
      const text = c.arg(streamsAt + n + i);
      if (groupName !== undefined && lookupGroup(s, groupName) === undefined) {
        return errorReply(
          `NOGROUP No such key '${key}' or consumer group '${groupName}' in XREADGROUP with GROUP option`,
        );
      }
      if (text === "$") {
        if (group) {
          return errorReply(
            "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
          );
        }
        ids.push(s?.lastId ?? 0n);
      } else if (text === ">") {
        if (!group) {
          return errorReply(
            "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
          );
        }
        ids.push(ID_MAX);
      } else ids.push(parseId(c, text, 0n, true).id);
    }
    const limit = Number(count > 1_000_000_000n ? 1_000_000_000n : count);
    const results = readAll(c, keys, ids, groupName, consumerName, noack, limit);
    if (results.length > 0) return streamsReply(c, results);
    if (timeout === -1) return nullArray(c.state.proto);
    // Blocked: served by the first XADD that makes one of the keys readable.
    const blockedCount = limit === 0 ? 1000 : limit;
    return c.block({
      keys,
      timeoutMs: timeout,
      serve: (ctx, key) => {
        const i = keys.indexOf(key);
        const s = ctx.keyspace.getStream(ctx.state.db, key);
        if (s === undefined || s === WRONG_TYPE) return undefined;
        if (groupName === undefined) {
          if (lastValidId(s) <= ids[i]! || s.entries.length === 0) return undefined;
          const entries = range(s, ids[i]! + 1n, ID_MAX, blockedCount, false).map(entryReply);
          return streamsReply(ctx, [[key, entries]]);
        }
        const g = lookupGroup(s, groupName);
        if (g === undefined) {
          // 7.2+ runs the blocked command again, which finds no group.
          if (ctx.era.at("7.2")) {
            const missing =
              keys.find((k) => {
                const ks = ctx.keyspace.getStream(ctx.state.db, k);
                return ks === undefined || ks === WRONG_TYPE || !ks.groups?.has(groupName);
              }) ?? key;
            return errorReply(
              `NOGROUP No such key '${missing}' or consumer group '${groupName}' in XREADGROUP with GROUP option`,
            );
          }
          return errorReply(
            "NOGROUP the consumer group this client was blocked on no longer exists",
          );
        }
        if (s.entries.length === 0 || lastValidId(s) <= g.lastId) return undefined;
        try {
          const consumer = consumerOf(ctx, key, g, consumerName);
          const entries = readNew(ctx, key, s, g, consumer, g.lastId + 1n, blockedCount, noack);
          wrote(ctx);
          return streamsReply(ctx, [[key, entries]]);
        } catch (e) {
          if (e instanceof StreamError) return e.reply;
          throw e;
        }
      },
      timedOut: (ctx) => nullArray(ctx.state.proto),
    });
  };
}

/** XREAD/XREADGROUP served now: the keys with something to give. */
function readAll(
  c: CommandContext,
  keys: string[],
  ids: StreamId[],
  groupName: string | undefined,
  consumerName: string,
  noack: boolean,
  count: number,
): Array<[string, RespValue[]]> {
  const results: Array<[string, RespValue[]]> = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const s = readStream(c, key);
    if (s === undefined) continue;
    let gt = ids[i]!;
    if (groupName !== undefined) {
      const g = lookupGroup(s, groupName)!;
      let history = false;
      if (gt !== ID_MAX) history = true;
      else if (s.entries.length > 0 && lastValidId(s) > g.lastId) gt = g.lastId;
      else continue;
      const consumer = consumerOf(c, key, g, consumerName);
      const start = gt + 1n;
      const entries = history
        ? readHistory(c, s, consumer, start, count)
        : readNew(c, key, s, g, consumer, start, count, noack);
      wrote(c);
      results.push([key, entries]);
    } else {
      if (s.entries.length === 0 || lastValidId(s) <= gt) continue;
      results.push([key, range(s, gt + 1n, ID_MAX, count, false).map(entryReply)]);
    }
  }
  return results;
}

function xack(c: CommandContext): Reply {
  const s = readStream(c, c.arg(1));
  const g = lookupGroup(s, c.arg(2));
  if (s === undefined || g === undefined) return integer(0);
  const ids = c.args.slice(3).map((_, j) => parseId(c, c.arg(j + 3), 0n, true).id);
  let acked = 0;
  for (const id of ids) {
    const nack = g.pel.get(id);
    if (nack === undefined) continue;
    g.pel.delete(id);
    nack.consumer?.pel.delete(id);
    acked++;
  }
  if (acked > 0) {
    release(c, c.arg(1), NACK_BYTES * acked, acked);
    wrote(c, acked);
  }
  return integer(acked);
}

function xpending(c: CommandContext): Reply {
  const argc = c.args.length;
  const justInfo = argc === 3;
  if (argc !== 3 && (argc < 6 || argc > 9)) return syntaxError();
  let start = 0n;
  let end = ID_MAX;
  let count = 0n;
  let minIdle = 0n;
  let consumerName: string | undefined;
  if (argc >= 6) {
    let at = 3;
    if (c.arg(3).toLowerCase() === "idle" && c.era.at("6.2")) {
      minIdle = int64(c, 4);
      if (argc < 8) return syntaxError();
      at += 2;
    }
    count = int64(c, at + 2);
    if (count < 0n) count = 0n;
    start = startBound(c, c.arg(at));
    end = endBound(c, c.arg(at + 1));
    if (at + 3 < argc) consumerName = c.arg(at + 3);
  }
  const key = c.arg(1);
  const s = readStream(c, key);
  const g = lookupGroup(s, c.arg(2));
  if (g === undefined)
    return errorReply(`NOGROUP No such key '${key}' or consumer group '${c.arg(2)}'`);
  if (justInfo) {
    if (g.pel.size === 0)
      return arr([integer(0), nullBulk(), nullBulk(), nullArray(c.state.proto)]);
    const sorted = byId(g.pel.values());
    const owners: RespValue[] = [];
    for (const name of raxOrder(g.consumers.keys())) {
      const cons = g.consumers.get(name)!;
      if (cons.pel.size === 0) continue;
      owners.push(arr([bulkText(name), bulkText(String(cons.pel.size))]));
    }
    return arr([
      integer(g.pel.size),
      idReply(sorted[0]!.id),
      idReply(sorted[sorted.length - 1]!.id),
      arr(owners),
    ]);
  }
  let pel: Iterable<StreamNack> = g.pel.values();
  if (consumerName !== undefined) {
    const cons = g.consumers.get(consumerName);
    if (cons === undefined) return EMPTY_ARRAY;
    pel = cons.pel.values();
  }
  const now = c.now();
  const out: RespValue[] = [];
  let left = count;
  for (const nack of byId(pel)) {
    if (left === 0n) break;
    if (nack.id < start) continue;
    if (nack.id > end) break;
    if (minIdle !== 0n && BigInt(now - nack.deliveryTime) < minIdle) continue;
    left--;
    out.push(
      arr([
        idReply(nack.id),
        bulkText(nack.consumer?.name ?? ""),
        integer(Math.max(0, now - nack.deliveryTime)),
        integer(nack.deliveryCount),
      ]),
    );
  }
  return arr(out);
}

/** Take a pending entry for `consumer` (XCLAIM/XAUTOCLAIM). */
function claim(nack: StreamNack, consumer: StreamConsumer, time: number): void {
  if (nack.consumer !== consumer) {
    nack.consumer?.pel.delete(nack.id);
    consumer.pel.set(nack.id, nack);
    nack.consumer = consumer;
  }
  nack.deliveryTime = time;
}

/** Forget a pending entry whose entry is gone. */
function dropNack(c: CommandContext, key: string, g: StreamGroup, nack: StreamNack): void {
  g.pel.delete(nack.id);
  nack.consumer?.pel.delete(nack.id);
  release(c, key, NACK_BYTES, 1);
}

function xclaim(c: CommandContext): Reply {
  const key = c.arg(1);
  const s = readStream(c, key);
  const g = lookupGroup(s, c.arg(2));
  if (s === undefined || g === undefined) {
    return errorReply(`NOGROUP No such key '${key}' or consumer group '${c.arg(2)}'`);
  }
  let minIdle = int64(c, 4, "Invalid min-idle-time argument for XCLAIM");
  if (minIdle < 0n) minIdle = 0n;
  const ids: StreamId[] = [];
  let j = 5;
  for (; j < c.args.length; j++) {
    try {
      ids.push(parseId(c, c.arg(j), 0n, true).id);
    } catch {
      break;
    }
  }
  const now = c.now();
  let force = false;
  let justId = false;
  let time = -1n;
  let retryCount = -1n;
  let lastId = 0n;
  for (; j < c.args.length; j++) {
    const more = c.args.length - 1 - j;
    const opt = c.arg(j).toLowerCase();
    if (opt === "force") force = true;
    else if (opt === "justid") justId = true;
    else if (opt === "idle" && more > 0) {
      time = BigInt(now) - int64(c, ++j, "Invalid IDLE option argument for XCLAIM");
    } else if (opt === "time" && more > 0) {
      time = int64(c, ++j, "Invalid TIME option argument for XCLAIM");
    } else if (opt === "retrycount" && more > 0) {
      retryCount = int64(c, ++j, "Invalid RETRYCOUNT option argument for XCLAIM");
    } else if (opt === "lastid" && more > 0) {
      lastId = parseId(c, c.arg(++j), 0n, true).id;
    } else return errorReply(`ERR Unrecognized XCLAIM option '${c.arg(j)}'`);
  }
  if (lastId > g.lastId) g.lastId = lastId;
  let delivery = now;
  if (time !== -1n) delivery = time < 0n || time > BigInt(now) ? now : Number(time);
  let consumer: StreamConsumer | undefined;
  const out: RespValue[] = [];
  for (const id of ids) {
    let nack = g.pel.get(id);
    const e = findEntry(s, id);
    if (e === undefined) {
      if (nack !== undefined) dropNack(c, key, g, nack);
      continue;
    }
    if (force && nack === undefined) {
      charge(c, key, NACK_BYTES, 1);
      nack = { id, consumer: undefined, deliveryTime: now, deliveryCount: 0 };
      g.pel.set(id, nack);
    }
    if (nack === undefined) continue;
    if (
      nack.consumer !== undefined &&
      minIdle !== 0n &&
      BigInt(now - nack.deliveryTime) < minIdle
    ) {
      continue;
    }
    consumer ??= consumerOf(c, key, g, c.arg(3));
    claim(nack, consumer, delivery);
    if (retryCount >= 0n) nack.deliveryCount = Number(retryCount);
    else if (!justId) nack.deliveryCount++;
    out.push(justId ? idReply(id) : entryReply(e));
    wrote(c);
  }
  return arr(out);
}

function xautoclaim(c: CommandContext): Reply {
  const key = c.arg(1);
  let minIdle = int64(c, 4, "Invalid min-idle-time argument for XAUTOCLAIM");
  if (minIdle < 0n) minIdle = 0n;
  const start = startBound(c, c.arg(5));
  let count = 100;
  let justId = false;
  for (let j = 6; j < c.args.length; j++) {
    const more = c.args.length - 1 - j;
    const opt = c.arg(j).toLowerCase();
    if (opt === "count" && more > 0) {
      const n = parseInt64(c.arg(j + 1));
      if (n === undefined || n < 1n || n > 922337203685477580n) {
        return errorReply("ERR COUNT must be > 0");
      }
      count = Number(n > 1_000_000n ? 1_000_000n : n);
      j++;
    } else if (opt === "justid") justId = true;
    else return syntaxError();
  }
  const s = readStream(c, key);
  const g = lookupGroup(s, c.arg(2));
  if (s === undefined || g === undefined) {
    return errorReply(`NOGROUP No such key '${key}' or consumer group '${c.arg(2)}'`);
  }
  const now = c.now();
  let attempts = count * 10;
  let consumer: StreamConsumer | undefined;
  const claimed: RespValue[] = [];
  const deleted: RespValue[] = [];
  const pending = byId(g.pel.values()).filter((n) => n.id >= start);
  let k = 0;
  for (; attempts > 0 && count > 0 && k < pending.length; k++, attempts--) {
    const nack = pending[k]!;
    const e = findEntry(s, nack.id);
    if (e === undefined) {
      dropNack(c, key, g, nack);
      deleted.push(idReply(nack.id));
      count--;
      continue;
    }
    if (minIdle !== 0n && BigInt(now - nack.deliveryTime) < minIdle) continue;
    consumer ??= consumerOf(c, key, g, c.arg(3));
    claim(nack, consumer, now);
    if (!justId) nack.deliveryCount++;
    claimed.push(justId ? idReply(nack.id) : entryReply(e));
    count--;
    wrote(c);
  }
  const next = pending[k];
  const parts: RespValue[] = [idReply(next?.id ?? 0n), arr(claimed)];
  // The deleted entries' IDs are a third element from 7.0.
  if (c.era.at("7.0")) parts.push(arr(deleted));
  return arr(parts);
}

/** XGROUP's subcommands share their parsing (xgroupCommand). */
function xgroup(c: CommandContext): Reply {
  const argc = c.args.length;
  const opt = c.arg(1).toLowerCase();
  const syntax = (): Reply =>
    errorReply(
      c.era.subcommandTable
        ? `ERR unknown subcommand or wrong number of arguments for '${c.arg(1).slice(0, 128)}'. Try XGROUP HELP.`
        : `ERR Unknown subcommand or wrong number of arguments for '${c.arg(1)}'. Try XGROUP HELP.`,
    );
  let s: StreamValue | undefined;
  let g: StreamGroup | undefined;
  let mkstream = false;
  let entriesRead = -1n;
  const key = c.arg(2);
  const name = c.arg(3);
  if (argc >= 4) {
    let i = 5;
    while (i < argc) {
      const o = c.arg(i).toLowerCase();
      if (opt === "create" && o === "mkstream") {
        mkstream = true;
        i++;
      } else if (
        (opt === "create" || opt === "setid") &&
        o === "entriesread" &&
        i + 1 < argc &&
        c.era.at("7.0")
      ) {
        entriesRead = int64(c, i + 1);
        if (entriesRead < 0n && entriesRead !== -1n) {
          return errorReply("ERR value for ENTRIESREAD must be positive or -1");
        }
        i += 2;
      } else return syntax();
    }
    s = readStream(c, key);
    if (!mkstream) {
      if (s === undefined) {
        return errorReply(
          "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        );
      }
      g = lookupGroup(s, name);
      if (
        g === undefined &&
        (opt === "setid" || opt === "createconsumer" || opt === "delconsumer")
      ) {
        return errorReply(`NOGROUP No such consumer group '${name}' for key name '${key}'`);
      }
    }
  }
  if (opt === "create" && argc >= 5 && argc <= 8) {
    let id: StreamId;
    if (c.arg(4) === "$") id = s?.lastId ?? 0n;
    else id = parseId(c, c.arg(4), 0n, true).id;
    if (s === undefined) {
      s = c.keyspace.createStream(c.state.db, key);
      if (s === undefined) return outOfMemory();
    }
    if (s.groups?.has(name)) return errorReply("BUSYGROUP Consumer Group name already exists");
    charge(c, key, GROUP_BYTES + name.length, 1);
    s.groups ??= new Map();
    s.groups.set(name, { name, lastId: id, entriesRead, pel: new Map(), consumers: new Map() });
    wrote(c);
    return OK;
  }
  if (opt === "setid" && (argc === 5 || argc === 7)) {
    const id = c.arg(4) === "$" ? s!.lastId : parseId(c, c.arg(4), 0n, false).id;
    g!.lastId = id;
    g!.entriesRead = entriesRead;
    wrote(c);
    return OK;
  }
  if (opt === "destroy" && argc === 4) {
    if (g === undefined) return integer(0);
    const elements = 1 + g.consumers.size + g.pel.size;
    let bytes = GROUP_BYTES + name.length + NACK_BYTES * g.pel.size;
    for (const cons of g.consumers.values()) bytes += CONSUMER_BYTES + cons.name.length;
    s!.groups!.delete(name);
    release(c, key, bytes, elements);
    wrote(c);
    // Clients blocked on the group are answered with NOGROUP.
    c.keyspace.blocked.signal(c.state.db, key);
    return integer(1);
  }
  if (opt === "createconsumer" && argc === 5 && c.era.at("6.2")) {
    const consumer = c.arg(4);
    if (g!.consumers.has(consumer)) return integer(0);
    consumerOf(c, key, g!, consumer);
    if (c.era.before("7.0")) wrote(c);
    return integer(1);
  }
  if (opt === "delconsumer" && argc === 5) {
    const cons = g!.consumers.get(c.arg(4));
    if (cons === undefined) return integer(0);
    const pending = cons.pel.size;
    for (const id of cons.pel.keys()) g!.pel.delete(id);
    g!.consumers.delete(cons.name);
    release(c, key, CONSUMER_BYTES + cons.name.length + NACK_BYTES * pending, 1 + pending);
    wrote(c);
    return integer(pending);
  }
  return syntax();
}

/** A map of named fields (RESP3 `%`, a flat array in RESP2). */
function fields(pairs: Array<[string, RespValue]>): RespValue {
  return map(pairs.map(([k, v]): [RespValue, RespValue] => [bulkText(k), v]));
}

function nullOr(n: bigint | undefined): RespValue {
  return n === undefined ? nil() : integer(Number(n));
}

function bigInteger(n: bigint): RespValue {
  return { type: "integer", value: n };
}

function xinfo(c: CommandContext): Reply {
  const argc = c.args.length;
  const opt = c.arg(1).toLowerCase();
  const syntax = (): Reply =>
    errorReply(
      c.era.subcommandTable
        ? `ERR unknown subcommand or wrong number of arguments for '${c.arg(1).slice(0, 128)}'. Try XINFO HELP.`
        : `ERR Unknown subcommand or wrong number of arguments for '${c.arg(1)}'. Try XINFO HELP.`,
    );
  if (argc < 3) return syntax();
  const key = c.arg(2);
  const s = readStream(c, key);
  if (s === undefined) return errorReply(NO_SUCH_KEY);
  const v7 = c.era.at("7.0");
  if (opt === "consumers" && argc === 4) {
    const g = lookupGroup(s, c.arg(3));
    if (g === undefined) {
      return errorReply(`NOGROUP No such consumer group '${c.arg(3)}' for key name '${key}'`);
    }
    const now = c.now();
    return arr(
      raxOrder(g.consumers.keys()).map((name) => {
        const cons = g.consumers.get(name)!;
        return fields([
          ["name", bulkText(name)],
          ["pending", integer(cons.pel.size)],
          ["idle", integer(Math.max(0, now - cons.seenTime))],
        ]);
      }),
    );
  }
  if (opt === "groups" && argc === 3) {
    return arr(
      raxOrder(s.groups?.keys() ?? []).map((name) => {
        const g = s.groups!.get(name)!;
        const out: Array<[string, RespValue]> = [
          ["name", bulkText(name)],
          ["consumers", integer(g.consumers.size)],
          ["pending", integer(g.pel.size)],
          ["last-delivered-id", idReply(g.lastId)],
        ];
        if (v7) {
          out.push(["entries-read", g.entriesRead === -1n ? nil() : bigInteger(g.entriesRead)]);
          out.push(["lag", nullOr(groupLag(s, g))]);
        }
        return fields(out);
      }),
    );
  }
  if (opt === "stream") return xinfoStream(c, s);
  return syntax();
}

function xinfoStream(c: CommandContext, s: StreamValue): Reply {
  const argc = c.args.length;
  const syntax = (): Reply =>
    errorReply(
      c.era.subcommandTable
        ? `ERR unknown subcommand or wrong number of arguments for '${c.arg(1).slice(0, 128)}'. Try XINFO HELP.`
        : `ERR Unknown subcommand or wrong number of arguments for '${c.arg(1)}'. Try XINFO HELP.`,
    );
  let full = false;
  let count = 10n;
  const optc = argc - 3;
  if (optc > 0) {
    if (!c.era.at("6.0")) return syntax();
    if (optc !== 1 && optc !== 3) return syntax();
    if (c.arg(3).toLowerCase() !== "full") return syntax();
    if (optc === 3) {
      if (c.arg(4).toLowerCase() !== "count") return syntax();
      count = int64(c, 5);
      if (count < 0n) count = 10n;
    }
    full = true;
  }
  const v7 = c.era.at("7.0");
  const nodes = s.nodes.length;
  const out: Array<[string, RespValue]> = [
    ["length", integer(s.entries.length)],
    ["radix-tree-keys", integer(nodes)],
    ["radix-tree-nodes", integer(nodes + 1)],
  ];
  // In 5.0 the group count came before the last ID.
  const groupsFirst = !full && c.era.before("6.0");
  if (groupsFirst) out.push(["groups", integer(s.groups?.size ?? 0)]);
  out.push(["last-generated-id", idReply(s.lastId)]);
  if (v7) {
    out.push(["max-deleted-entry-id", idReply(s.maxDeletedId)]);
    out.push(["entries-added", bigInteger(s.entriesAdded)]);
    out.push(["recorded-first-entry-id", idReply(s.firstId)]);
  }
  if (!full) {
    if (!groupsFirst) out.push(["groups", integer(s.groups?.size ?? 0)]);
    const first = s.entries[0];
    const last = s.entries[s.entries.length - 1];
    out.push(["first-entry", first === undefined ? nil() : entryReply(first)]);
    out.push(["last-entry", last === undefined ? nil() : entryReply(last)]);
    return fields(out);
  }
  const n = count === 0n ? s.entries.length : Number(count > 1_000_000n ? 1_000_000n : count);
  out.push(["entries", arr(s.entries.slice(0, n).map(entryReply))]);
  const limit = (xs: StreamNack[]): StreamNack[] =>
    count === 0n ? xs : xs.slice(0, Number(count));
  const groups = raxOrder(s.groups?.keys() ?? []).map((name) => {
    const g = s.groups!.get(name)!;
    const gf: Array<[string, RespValue]> = [
      ["name", bulkText(name)],
      ["last-delivered-id", idReply(g.lastId)],
    ];
    if (v7) {
      gf.push(["entries-read", g.entriesRead === -1n ? nil() : bigInteger(g.entriesRead)]);
      gf.push(["lag", nullOr(groupLag(s, g))]);
    }
    gf.push(["pel-count", integer(g.pel.size)]);
    gf.push([
      "pending",
      arr(
        limit(byId(g.pel.values())).map((nack) =>
          arr([
            idReply(nack.id),
            bulkText(nack.consumer?.name ?? ""),
            integer(nack.deliveryTime),
            integer(nack.deliveryCount),
          ]),
        ),
      ),
    ]);
    gf.push([
      "consumers",
      arr(
        raxOrder(g.consumers.keys()).map((cname) => {
          const cons = g.consumers.get(cname)!;
          return fields([
            ["name", bulkText(cname)],
            ["seen-time", integer(cons.seenTime)],
            ["pel-count", integer(cons.pel.size)],
            [
              "pending",
              arr(
                limit(byId(cons.pel.values())).map((nack) =>
                  arr([idReply(nack.id), integer(nack.deliveryTime), integer(nack.deliveryCount)]),
                ),
              ),
            ],
          ]);
        }),
      ),
    ]);
    return fields(gf);
  });
  out.push(["groups", arr(groups)]);
  return fields(out);
}

const g = guarded;

export const STREAM_COMMANDS: CommandSpec[] = inCategory("stream", [
  { name: "xadd", arity: -5, since: "5.0", flags: ["write", "denyoom"], handler: g(xadd) },
  { name: "xrange", arity: -4, since: "5.0", handler: g(xrange(false)) },
  { name: "xrevrange", arity: -4, since: "5.0", handler: g(xrange(true)) },
  { name: "xlen", arity: 2, since: "5.0", handler: g(xlen) },
  {
    name: "xread",
    arity: -4,
    since: "5.0",
    keys: [0, 0, 0],
    handler: g(xread(false)),
  },
  {
    name: "xreadgroup",
    arity: -7,
    since: "5.0",
    keys: [0, 0, 0],
    flags: ["write"],
    handler: g(xread(true)),
  },
  {
    name: "xgroup",
    arity: -2,
    since: "5.0",
    flags: ["write", "denyoom"],
    keys: [2, 2, 1],
    subcommands: {
      create: { arity: -5, handler: g(xgroup) },
      setid: { arity: -5, handler: g(xgroup) },
      destroy: { arity: 4, handler: g(xgroup) },
      createconsumer: { arity: 5, since: "6.2", handler: g(xgroup) },
      delconsumer: { arity: 5, handler: g(xgroup) },
      help: { arity: 2, handler: g(xgroup) },
    },
  },
  {
    name: "xsetid",
    arity: [
      ["5.0", 3],
      ["7.0", -3],
    ],
    since: "5.0",
    flags: ["write", "denyoom"],
    handler: g(xsetid),
  },
  { name: "xack", arity: -4, since: "5.0", flags: ["write"], handler: g(xack) },
  { name: "xpending", arity: -3, since: "5.0", handler: g(xpending) },
  { name: "xclaim", arity: -6, since: "5.0", flags: ["write"], handler: g(xclaim) },
  { name: "xautoclaim", arity: -6, since: "6.2", flags: ["write"], handler: g(xautoclaim) },
  {
    name: "xinfo",
    arity: -2,
    since: "5.0",
    keys: [2, 2, 1],
    subcommands: {
      consumers: { arity: 4, handler: g(xinfo) },
      groups: { arity: 3, handler: g(xinfo) },
      stream: { arity: -3, handler: g(xinfo) },
      help: { arity: 2, handler: g(xinfo) },
    },
  },
  { name: "xdel", arity: -3, since: "5.0", flags: ["write"], handler: g(xdel) },
  {
    name: "xtrim",
    arity: [
      ["5.0", -2],
      ["6.2", -4],
    ],
    since: "5.0",
    flags: ["write"],
    handler: g(xtrim),
  },
]);
