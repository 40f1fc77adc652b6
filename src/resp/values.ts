import type { RespValue } from "./types.js";

/** The member of RespValue with the given `type`. */
export type RespOf<K extends RespValue["type"]> = Extract<RespValue, { type: K }>;

/** Builders for replies (honeypot personas, test servers); encodeValue writes them. */

export function simple(value: string): RespOf<"simple"> {
  return { type: "simple", value };
}

export function err(value: string): RespOf<"error"> {
  return { type: "error", value };
}

/** Throws RangeError for a number that is not an integer. */
export function int(value: number | bigint): RespOf<"integer"> {
  return { type: "integer", value: BigInt(value) };
}

/** A string becomes its UTF-8 bytes; null is the RESP2 null bulk (`$-1`). */
export function bulk(value: Buffer | string | null): RespOf<"bulk"> {
  return { type: "bulk", value: typeof value === "string" ? Buffer.from(value, "utf8") : value };
}

/** null is the RESP2 null array (`*-1`). */
export function arr(items: RespValue[] | null): RespOf<"array"> {
  return { type: "array", value: items };
}

export function map(pairs: Array<[RespValue, RespValue]>): RespOf<"map"> {
  return { type: "map", value: pairs };
}

/** RESP3 verbatim string (`=`); the format is 3 bytes: "txt" or "mkd". */
export function verbatim(text: Buffer | string, format = "txt"): RespOf<"verbatim"> {
  return { type: "verbatim", format, value: typeof text === "string" ? Buffer.from(text) : text };
}

/** RESP3 null (`_`). */
export function nil(): RespOf<"null"> {
  return { type: "null" };
}

export function bool(value: boolean): RespOf<"boolean"> {
  return { type: "boolean", value };
}

export function double(value: number): RespOf<"double"> {
  return { type: "double", value };
}
