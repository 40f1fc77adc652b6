/**
 * SORT and SORT_RO (sort.c): lists, sets and sorted sets, numerically or ALPHA, ASC/DESC,
 * LIMIT, BY and GET patterns (`*` replaced by the element, `->field` for a hash field, `#`
 * the element itself; a BY pattern without `*` means "do not sort"), and STORE into a list.
 * Patterns look up keys of the session's own keyspace only. The reply is checked against
 * the session's reply budget before it is built; a STORE is charged to the keyspace.
 */
import { arr, bulk } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { OUT_OF_MEMORY } from "../keyspace.js";
import { strtod } from "./doubles.js";
import { parseInt64 } from "./integers.js";
import {
  errorReply,
  integer,
  notInteger,
  nullBulk,
  outOfMemory,
  type Reply,
  syntaxError,
  wrongType,
} from "./reply.js";
import { setOrder } from "./sets.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

/** lookupKeyByPattern: the string (or hash field) a pattern names for `element`. */
function byPattern(c: CommandContext, pattern: string, element: string): Buffer | undefined {
  if (pattern === "#") return Buffer.from(element, "latin1");
  const star = pattern.indexOf("*");
  if (star < 0) return undefined;
  const arrow = pattern.indexOf("->", star + 1);
  const hasField = arrow >= 0 && arrow + 2 < pattern.length;
  const keyPart = hasField ? pattern.slice(0, arrow) : pattern;
  const key = keyPart.slice(0, star) + element + keyPart.slice(star + 1);
  const v = c.keyspace.lookup(c.state.db, key);
  // lookupKeyByPattern reads with lookupKeyRead: INFO keyspace_hits / keyspace_misses.
  c.persona.countLookup(v !== undefined);
  if (v === undefined) return undefined;
  if (hasField) return v.type === "hash" ? v.value.get(pattern.slice(arrow + 2)) : undefined;
  return v.type === "string" ? v.value : undefined;
}

/** compareStringObjects: bytes, then the shorter first (latin1 `<` is exactly that). */
const binary = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface Item {
  element: string;
  score: number;
  by?: string;
}

function sortGeneric(readOnly: boolean) {
  return (c: CommandContext): Reply => {
    let desc = false;
    let alpha = false;
    let limitStart = 0n;
    let limitCount = -1n;
    let dontSort = false;
    let sortBy: string | undefined;
    let store: string | undefined;
    const gets: string[] = [];
    for (let j = 2; j < c.args.length; j++) {
      const left = c.args.length - j - 1;
      const opt = c.arg(j).toLowerCase();
      if (opt === "asc") desc = false;
      else if (opt === "desc") desc = true;
      else if (opt === "alpha") alpha = true;
      else if (opt === "limit" && left >= 2) {
        const s = parseInt64(c.arg(j + 1));
        if (s === undefined) return notInteger();
        const n = parseInt64(c.arg(j + 2));
        if (n === undefined) return notInteger();
        limitStart = s;
        limitCount = n;
        j += 2;
      } else if (!readOnly && opt === "store" && left >= 1) store = c.arg(++j);
      else if (opt === "by" && left >= 1) {
        sortBy = c.arg(++j);
        if (!sortBy.includes("*")) dontSort = true;
      } else if (opt === "get" && left >= 1) gets.push(c.arg(++j));
      else return syntaxError();
    }
    const v = c.keyspace.lookup(c.state.db, c.arg(1));
    if (v !== undefined && v.type !== "list" && v.type !== "set" && v.type !== "zset") {
      return wrongType();
    }
    if (dontSort && v?.type === "set" && store !== undefined) {
      dontSort = false;
      alpha = true;
      sortBy = undefined;
    }
    let elements: string[];
    if (v === undefined) elements = [];
    else if (v.type === "list") elements = v.value.map((b) => b.toString("latin1"));
    else if (v.type === "set") elements = setOrder(c, v.value);
    else if (v.type === "zset")
      elements = dontSort ? [...v.value.members()] : [...v.value.scores.keys()];
    else elements = [];
    const n = elements.length;
    const clamp = (x: bigint, lo: bigint, hi: bigint): number =>
      Number(x < lo ? lo : x > hi ? hi : x);
    let start = clamp(limitStart, 0n, BigInt(n));
    const count = clamp(limitCount, -1n, BigInt(n));
    let end = count < 0 ? n - 1 : start + count - 1;
    if (start >= n) {
      start = n - 1;
      end = n - 2;
    }
    if (end >= n) end = n - 1;
    let items: Item[];
    if (dontSort && (v?.type === "list" || v?.type === "zset")) {
      // Taken in the collection's order (from the end with DESC), the LIMIT applied first.
      // (2.8 walked a list forward whatever the direction.)
      const backward = desc && (v.type === "zset" || c.era.at("3.0"));
      const ordered = backward ? [...elements].reverse() : elements;
      items =
        end >= start ? ordered.slice(start, end + 1).map((e) => ({ element: e, score: 0 })) : [];
      end -= start;
      start = 0;
    } else items = elements.map((e) => ({ element: e, score: 0 }));
    if (!dontSort) {
      let conversionError = false;
      for (const it of items) {
        let byval: string | undefined;
        if (sortBy !== undefined) {
          const b = byPattern(c, sortBy, it.element);
          if (b === undefined) continue;
          byval = b.toString("latin1");
        } else byval = it.element;
        if (alpha) {
          if (sortBy !== undefined) it.by = byval;
        } else {
          const r = strtod(byval);
          it.score = r.value;
          if (r.end !== byval.length || r.range || Number.isNaN(r.value)) conversionError = true;
        }
      }
      const sign = desc ? -1 : 1;
      items.sort((a, b) => {
        let cmp: number;
        if (!alpha) {
          cmp = a.score > b.score ? 1 : a.score < b.score ? -1 : binary(a.element, b.element);
        } else if (sortBy !== undefined) {
          if (a.by === undefined || b.by === undefined) {
            cmp = a.by === b.by ? 0 : a.by === undefined ? -1 : 1;
          } else cmp = binary(a.by, b.by);
        } else cmp = binary(a.element, b.element);
        return sign * cmp;
      });
      if (conversionError) {
        return errorReply("ERR One or more scores can't be converted into double");
      }
    }
    const picked = end >= start ? items.slice(start, end + 1) : [];
    const outputs: Array<Buffer | undefined> = [];
    let bytes = 0;
    for (const it of picked) {
      if (gets.length === 0) {
        const b = Buffer.from(it.element, "latin1");
        outputs.push(b);
        bytes += b.length + 16;
        continue;
      }
      for (const g of gets) {
        const val = byPattern(c, g, it.element);
        outputs.push(val);
        bytes += (val?.length ?? 0) + 16;
        // Many GETs of one large value: checked while adding up, before anything is built.
        if (store === undefined && !c.replyFits(bytes)) return c.overLimit();
      }
    }
    if (store === undefined) {
      if (!c.replyFits(bytes)) return c.overLimit();
      return arr(outputs.map((b): RespValue => (b === undefined ? nullBulk() : bulk(b))));
    }
    const db = c.state.db;
    if (outputs.length === 0) {
      if (c.keyspace.delete(db, store)) wrote(c);
      return integer(0);
    }
    if (!c.keyspace.fits(bytes)) return outOfMemory();
    c.keyspace.delete(db, store);
    const pushed = c.keyspace.listPush(
      db,
      store,
      outputs.map((b) => b ?? Buffer.alloc(0)),
      false,
    );
    if (pushed === OUT_OF_MEMORY) return outOfMemory();
    wrote(c, outputs.length);
    return integer(outputs.length);
  };
}

export const SORT_COMMANDS: CommandSpec[] = inCategory("keyspace", [
  { name: "sort", arity: -2, flags: ["write", "denyoom"], handler: sortGeneric(false) },
  { name: "sort_ro", arity: -2, since: "7.0", handler: sortGeneric(true) },
]);
