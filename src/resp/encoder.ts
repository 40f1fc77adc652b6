import { quoteInlineArg } from "./inline.js";
import { formatDouble } from "./numbers.js";
import type { RespValue } from "./types.js";

/** A command as a client sends it: a RESP array of bulk strings, in one allocation. */
export function encodeCommand(args: ReadonlyArray<string | Buffer>): Buffer {
  const lengths = args.map((arg) =>
    typeof arg === "string" ? Buffer.byteLength(arg) : arg.length,
  );
  let size = 3 + String(args.length).length;
  for (const length of lengths) size += 5 + String(length).length + length;
  const out = Buffer.allocUnsafe(size);
  let p = out.write(`*${args.length}\r\n`, 0, "latin1");
  for (let k = 0; k < args.length; k++) {
    const arg = args[k]!;
    p += out.write(`$${lengths[k]}\r\n`, p, "latin1");
    p += typeof arg === "string" ? out.write(arg, p, "utf8") : arg.copy(out, p);
    p += out.write("\r\n", p, "latin1");
  }
  return out;
}

/**
 * A command as an inline line (what telnet users and zgrab2's `--inline` send), CRLF-ended.
 * Arguments that are empty or hold blanks, quotes or non-printable bytes are double-quoted so
 * that the server splits the line back into exactly these arguments.
 */
export function encodeInline(args: string[]): Buffer {
  const line = args.map((arg, k) => quoteInlineArg(arg, k === 0)).join(" ");
  return Buffer.from(`${line}\r\n`, "latin1"); // quoting leaves only ASCII
}

/** A simple string or error must stay one line: whatever a caller passes cannot add a reply. */
function oneLine(text: string): string {
  return /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, " ") : text;
}

/** Collects text and binary parts, turning runs of text into one Buffer. */
class ReplyWriter {
  private readonly parts: Buffer[] = [];
  private text = "";

  write(text: string): void {
    this.text += text;
  }

  bytes(payload: Buffer): void {
    if (this.text !== "") this.parts.push(Buffer.from(this.text, "utf8"));
    this.parts.push(payload);
    this.text = "";
  }

  bulk(payload: Buffer): void {
    this.write(`$${payload.length}\r\n`);
    this.bytes(payload);
    this.write("\r\n");
  }

  finish(): Buffer {
    if (this.text !== "") this.parts.push(Buffer.from(this.text, "utf8"));
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
  }
}

/** Array-like elements, not counting attributes: those annotate the element after them. */
function countElements(items: RespValue[]): number {
  let count = 0;
  for (const item of items) if (item.type !== "attribute") count++;
  return count;
}

function pushReversed(work: RespValue[], items: RespValue[]): void {
  for (let k = items.length - 1; k >= 0; k--) work.push(items[k]!);
}

function pushPairsReversed(work: RespValue[], pairs: Array<[RespValue, RespValue]>): void {
  for (let k = pairs.length - 1; k >= 0; k--) {
    const [key, value] = pairs[k]!;
    if (key.type === "attribute" || value.type === "attribute") {
      throw new TypeError("an attribute cannot stand as a map key or value");
    }
    work.push(value, key);
  }
}

/**
 * A reply as a server writes it, for a client speaking `proto` (2 unless it sent HELLO 3).
 * For RESP2, RESP3-only types are downgraded as Redis downgrades them: null → `$-1`, boolean →
 * `:1`/`:0`, double and big number → bulk string, verbatim → bulk string of its text, map →
 * flat array, set and push → array; attributes are dropped. Errors are `-` lines in both
 * protocols. Nested values are walked with an explicit stack, never recursion.
 */
export function encodeValue(value: RespValue, proto: 2 | 3): Buffer {
  const out = new ReplyWriter();
  const resp3 = proto === 3;
  const work: RespValue[] = [value];
  for (let v = work.pop(); v !== undefined; v = work.pop()) {
    switch (v.type) {
      case "simple":
        out.write(`+${oneLine(v.value)}\r\n`);
        break;
      case "error":
        out.write(`-${oneLine(v.value)}\r\n`);
        break;
      case "integer":
        out.write(`:${v.value}\r\n`);
        break;
      case "bulk":
        if (v.value === null) out.write("$-1\r\n");
        else out.bulk(v.value);
        break;
      case "array":
        if (v.value === null) {
          out.write("*-1\r\n");
        } else {
          out.write(`*${countElements(v.value)}\r\n`);
          pushReversed(work, v.value);
        }
        break;
      case "null":
        out.write(resp3 ? "_\r\n" : "$-1\r\n");
        break;
      case "boolean":
        out.write(resp3 ? `#${v.value ? "t" : "f"}\r\n` : `:${v.value ? 1 : 0}\r\n`);
        break;
      case "double": {
        const text = formatDouble(v.value);
        out.write(resp3 ? `,${text}\r\n` : `$${text.length}\r\n${text}\r\n`);
        break;
      }
      case "bignum": {
        const text = v.value.toString();
        out.write(resp3 ? `(${text}\r\n` : `$${text.length}\r\n${text}\r\n`);
        break;
      }
      case "verbatim":
        if (!resp3) {
          out.bulk(v.value);
          break;
        }
        if (Buffer.byteLength(v.format) !== 3) {
          throw new RangeError(`verbatim format must be 3 bytes, got ${JSON.stringify(v.format)}`);
        }
        out.write(`=${v.value.length + 4}\r\n${v.format}:`);
        out.bytes(v.value);
        out.write("\r\n");
        break;
      case "map":
        out.write(resp3 ? `%${v.value.length}\r\n` : `*${v.value.length * 2}\r\n`);
        pushPairsReversed(work, v.value);
        break;
      case "set":
      case "push":
        out.write(`${resp3 ? (v.type === "set" ? "~" : ">") : "*"}${countElements(v.value)}\r\n`);
        pushReversed(work, v.value);
        break;
      case "attribute":
        if (resp3) {
          out.write(`|${v.value.length}\r\n`);
          pushPairsReversed(work, v.value);
        }
        break;
    }
  }
  return out.finish();
}
