/**
 * The bytes of one input (a file or stdin) and the JSON texts in it: one record a line (JSONL,
 * what zgrab2, `shodan download` and redscope write) or one top-level JSON array of records
 * (Shodan's web export, `jq -s` over a download), pretty-printed or not. Gzip is recognised by
 * its magic, whatever the name, on stdin too.
 *
 * Memory is bounded either way: a line or an array element is held only up to the cap (a
 * longer one is reported with its length and skipped, never buffered), and an array is read
 * element by element as it streams, never whole.
 */
import fs from "node:fs";
import { pipeline, Readable } from "node:stream";
import zlib from "node:zlib";
import { type RawLine, splitLines } from "../untrusted/lines.js";

/** `-` names stdin on the command line. */
export const STDIN = "-";

/** A file's bytes, or a stream's (stdin), gunzipped when they start with the gzip magic. */
export async function openInput(
  source: string | AsyncIterable<Buffer>,
): Promise<AsyncIterable<Buffer>> {
  const raw =
    typeof source === "string" ? fs.createReadStream(source, { highWaterMark: 1 << 16 }) : source;
  const { head, rest } = await peek(raw, 2);
  const whole = Readable.from(rest, { objectMode: false });
  if (head.length < 2 || head[0] !== 0x1f || head[1] !== 0x8b) return whole;
  // pipeline: an error on either side ends both, and so does the reader stopping early.
  return pipeline(whole, zlib.createGunzip(), () => {});
}

/**
 * The first `n` bytes (fewer at the end of the input), and the whole input again with them.
 * A pipe may deliver a byte at a time: chunks are gathered until there are enough.
 */
async function peek(
  input: AsyncIterable<Buffer>,
  n: number,
): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const it = input[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    if (chunk.length === 0) continue;
    seen.push(chunk);
    size += chunk.length;
  }
  return { head: Buffer.concat(seen, size).subarray(0, n), rest: rejoin(seen, it, done) };
}

/**
 * The chunks already taken from an iterator, then the rest of it. A reader that stops early
 * (format detection reads a few lines) ends the iterator, and with it the file it reads.
 */
async function* rejoin(
  seen: Buffer[],
  it: AsyncIterator<Buffer>,
  done: boolean,
): AsyncGenerator<Buffer> {
  try {
    yield* seen;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  } finally {
    await it.return?.();
  }
}

/** Where byte `b` is next in `chunk` from `from`, or chunk.length when it is not. */
function indexOr(chunk: Buffer, b: number, from: number): number {
  const at = chunk.indexOf(b, from);
  return at < 0 ? chunk.length : at;
}

const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * The JSON texts of an input: its lines, or — when its first byte that is not white space (or
 * a byte order mark) is `[` — the elements of that one array, each with the line it starts on.
 */
export async function* jsonTexts(
  input: AsyncIterable<Buffer>,
  max: number,
): AsyncGenerator<RawLine> {
  const it = input[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let first: number | undefined;
  let done = false;
  let offset = 0;
  while (first === undefined) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const chunk = r.value as Buffer;
    seen.push(chunk);
    for (let i = 0; i < chunk.length; i++, offset++) {
      const b = chunk[i]!;
      // A UTF-8 byte order mark at the very start is an editor's.
      if (offset < 3 && (b === 0xef || b === 0xbb || b === 0xbf)) continue;
      if (!isSpace(b)) {
        first = b;
        break;
      }
    }
  }
  const all = rejoin(seen, it, done);
  if (first === 0x5b /* [ */) yield* arrayElements(all, max);
  else yield* splitLines(all, max);
}

/**
 * The elements of one top-level JSON array, as the bytes stream: strings and nesting are
 * tracked so that only the commas and the bracket of the top level split. An element is held
 * up to `max` bytes; a longer one is reported (with its length) and skipped. A cut array, or
 * text after it, ends with an error line; the elements before are kept.
 */
async function* arrayElements(input: AsyncIterable<Buffer>, max: number): AsyncGenerator<RawLine> {
  let line = 1;
  /** 0: before the array; 1: inside it, between elements; >1 or inElement: in an element. */
  let depth = 0;
  let inElement = false;
  let inString = false;
  let escaped = false;
  let closed = false;
  let startLine = 0;
  let parts: Buffer[] = [];
  let size = 0;
  let over = false;
  let partFrom = 0;
  const take = (): RawLine => {
    const r: RawLine = over
      ? { line: startLine, error: `record too long: ${size} bytes (at most ${max})` }
      : { line: startLine, text: Buffer.concat(parts, size).toString("utf8") };
    parts = [];
    size = 0;
    over = false;
    inElement = false;
    return r;
  };
  const keep = (chunk: Buffer, from: number, to: number): void => {
    if (to <= from) return;
    size += to - from;
    if (over) return;
    if (size > max) {
      over = true;
      parts = [];
    } else parts.push(chunk.subarray(from, to));
  };
  try {
    for await (const chunk of input) {
      partFrom = inElement ? 0 : -1;
      // Where the next quote and backslash of this chunk are (chunk.length: none), found once.
      let nextQuote = -1;
      let nextSlash = -1;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (b === 0x0a) line++;
        if (closed) {
          if (isSpace(b)) continue;
          yield { line, error: "text after the JSON array" };
          return;
        }
        if (inString) {
          if (escaped) escaped = false;
          else if (b === 0x5c /* \ */) escaped = true;
          else if (b === 0x22 /* " */) inString = false;
          else {
            // Most bytes of a banner are inside strings: jump to the next quote or backslash
            // (JSON strings hold no raw newline, so no line is skipped over).
            if (nextQuote < i) nextQuote = indexOr(chunk, 0x22, i);
            if (nextSlash < i) nextSlash = indexOr(chunk, 0x5c, i);
            i = Math.min(nextQuote, nextSlash) - 1;
          }
          continue;
        }
        if (depth === 0) {
          if (b === 0x5b) depth = 1;
          continue;
        }
        if (!inElement) {
          if (isSpace(b) || b === 0x2c /* , */) continue;
          if (b === 0x5d /* ] */ && depth === 1) {
            closed = true;
            continue;
          }
          inElement = true;
          startLine = line;
          partFrom = i;
        }
        if (b === 0x22) inString = true;
        else if (b === 0x7b || b === 0x5b) depth++;
        else if (b === 0x7d || b === 0x5d || b === 0x2c) {
          // The end of the element: its closing bracket, or a comma / the array's end after a
          // bare value (a number, true, …).
          if (depth === 1) {
            keep(chunk, partFrom, i);
            yield take();
            if (b === 0x5d) closed = true;
            continue;
          }
          if (b !== 0x2c) {
            depth--;
            if (depth === 1) {
              keep(chunk, partFrom, i + 1);
              yield take();
            }
          }
        }
      }
      if (inElement) keep(chunk, partFrom, chunk.length);
    }
  } catch (e) {
    yield { line, error: `read error: ${(e as Error).message}` };
    return;
  }
  if (inElement) {
    yield { line: startLine, error: "the JSON array is cut short: this record is incomplete" };
  } else if (!closed) yield { line, error: "the JSON array is cut short: no closing ]" };
}
