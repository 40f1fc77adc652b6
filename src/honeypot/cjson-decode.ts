/**
 * cjson.decode as Redis's lua_cjson.c decodes (its tokens, strtod's numbers, its nesting bound
 * and its error texts: "Expected comma or array end but found T_END at character 5"), into a
 * plain tree the scripting layer pushes into Lua. The input is a C string: a NUL ends it.
 */

/** A decoded value: null is cjson.null; arrays and objects keep their order. */
export type CjsonValue =
  | null
  | boolean
  | number
  | Buffer
  | { array: CjsonValue[] }
  | { object: Array<[Buffer, CjsonValue]> };

/** The decoder's error, worded as luaL_error's message (without the position). */
export class CjsonError extends Error {}

const MAX_DEPTH = 1000;

type TokenType =
  | "T_OBJ_BEGIN"
  | "T_OBJ_END"
  | "T_ARR_BEGIN"
  | "T_ARR_END"
  | "T_STRING"
  | "T_NUMBER"
  | "T_BOOLEAN"
  | "T_NULL"
  | "T_COLON"
  | "T_COMMA"
  | "T_END"
  | "T_ERROR";

interface Token {
  type: TokenType;
  index: number;
  value?: number | boolean | Buffer;
  error?: string;
}

const SINGLE: Record<number, TokenType> = {
  123: "T_OBJ_BEGIN",
  125: "T_OBJ_END",
  91: "T_ARR_BEGIN",
  93: "T_ARR_END",
  44: "T_COMMA",
  58: "T_COLON",
};
const UNKNOWN = new Set(Array.from('fiInNt"+-0123456789', (c) => c.charCodeAt(0)));
const ESCAPES: Record<number, number> = {
  34: 0x22,
  92: 0x5c,
  47: 0x2f,
  98: 0x08,
  116: 0x09,
  110: 0x0a,
  102: 0x0c,
  114: 0x0d,
  117: 0x75,
};

/** What strtod reads at the start of a string (fpconv_strtod: the C locale's strtod). */
const STRTOD =
  /^[+-]?(?:0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)/;

function strtod(text: string): number {
  const sign = text.startsWith("-") ? -1 : 1;
  const t = text.replace(/^[+-]/, "");
  if (/^inf/i.test(t)) return sign * Number.POSITIVE_INFINITY;
  if (/^nan/i.test(t)) return Number.NaN;
  const hex = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/.exec(t);
  if (hex !== null) {
    const int = hex[1] ?? "";
    const frac = hex[2] ?? "";
    let v = 0;
    for (const c of int + frac) v = v * 16 + Number.parseInt(c, 16);
    return sign * v * 2 ** (Number(hex[3] ?? 0) - 4 * frac.length);
  }
  return sign * Number(t);
}

class Parser {
  private pos = 0;
  private depth = 0;
  private readonly data: Buffer;

  constructor(input: Buffer) {
    const nul = input.indexOf(0);
    this.data = nul < 0 ? input : input.subarray(0, nul);
  }

  private at(i: number): number {
    return i < this.data.length ? this.data[i]! : 0;
  }

  private fail(token: Token, error: string): Token {
    token.type = "T_ERROR";
    token.index = this.pos;
    token.error = error;
    return token;
  }

  next(): Token {
    while ([0x20, 0x09, 0x0a, 0x0d].includes(this.at(this.pos))) this.pos++;
    const ch = this.at(this.pos);
    const token: Token = { type: "T_END", index: this.pos };
    if (this.pos >= this.data.length) return token;
    const single = SINGLE[ch];
    if (single !== undefined) {
      token.type = single;
      this.pos++;
      return token;
    }
    if (!UNKNOWN.has(ch)) return this.fail(token, "invalid token");
    if (ch === 0x22) return this.string(token);
    const rest = this.data.toString("latin1", this.pos, Math.min(this.data.length, this.pos + 400));
    if (ch === 0x2d || (ch >= 0x30 && ch <= 0x39)) return this.number(token, rest);
    for (const [word, type, value] of [
      ["true", "T_BOOLEAN", true],
      ["false", "T_BOOLEAN", false],
      ["null", "T_NULL", undefined],
    ] as const) {
      if (rest.startsWith(word)) {
        token.type = type;
        if (value !== undefined) token.value = value;
        this.pos += word.length;
        return token;
      }
    }
    // decode_invalid_numbers (on in Redis): +1, inf, nan are numbers to strtod.
    if (/^[+iInN]/.test(rest)) return this.number(token, rest);
    return this.fail(token, "invalid token");
  }

  private number(token: Token, rest: string): Token {
    const m = STRTOD.exec(rest);
    if (m === null) return this.fail(token, "invalid number");
    token.type = "T_NUMBER";
    token.value = strtod(m[0]);
    this.pos += m[0].length;
    return token;
  }

  private hex4(i: number): number {
    const s = this.data.toString("latin1", i, i + 4);
    return /^[0-9a-fA-F]{4}$/.test(s) ? Number.parseInt(s, 16) : -1;
  }

  private string(token: Token): Token {
    this.pos++;
    const out: number[] = [];
    for (;;) {
      if (this.pos >= this.data.length) return this.fail(token, "unexpected end of string");
      const ch = this.data[this.pos]!;
      if (ch === 0x22) break;
      if (ch !== 0x5c) {
        out.push(ch);
        this.pos++;
        continue;
      }
      const esc = ESCAPES[this.at(this.pos + 1)];
      if (esc === undefined) return this.fail(token, "invalid escape code");
      if (esc !== 0x75) {
        out.push(esc);
        this.pos += 2;
        continue;
      }
      let code = this.hex4(this.pos + 2);
      let len = 6;
      if (code >= 0 && (code & 0xf800) === 0xd800) {
        const low =
          (code & 0x400) === 0 && this.at(this.pos + 6) === 0x5c && this.at(this.pos + 7) === 0x75
            ? this.hex4(this.pos + 8)
            : -1;
        code =
          low >= 0 && (low & 0xfc00) === 0xdc00
            ? (((code & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000
            : -1;
        len = 12;
      }
      if (code < 0) return this.fail(token, "invalid unicode escape code");
      out.push(...Buffer.from(String.fromCodePoint(code), "utf8"));
      this.pos += len;
    }
    this.pos++;
    token.type = "T_STRING";
    token.value = Buffer.from(out);
    return token;
  }

  throwAt(expected: string, token: Token): never {
    const found = token.type === "T_ERROR" ? token.error! : token.type;
    throw new CjsonError(`Expected ${expected} but found ${found} at character ${token.index + 1}`);
  }

  private descend(): void {
    this.depth++;
    if (this.depth > MAX_DEPTH) {
      throw new CjsonError(
        `Found too many nested data structures (${this.depth}) at character ${this.pos}`,
      );
    }
  }

  value(token: Token): CjsonValue {
    switch (token.type) {
      case "T_STRING":
        return token.value as Buffer;
      case "T_NUMBER":
        return token.value as number;
      case "T_BOOLEAN":
        return token.value as boolean;
      case "T_NULL":
        return null;
      case "T_OBJ_BEGIN": {
        this.descend();
        const object: Array<[Buffer, CjsonValue]> = [];
        let t = this.next();
        if (t.type !== "T_OBJ_END") {
          for (;;) {
            if (t.type !== "T_STRING") this.throwAt("object key string", t);
            const key = t.value as Buffer;
            t = this.next();
            if (t.type !== "T_COLON") this.throwAt("colon", t);
            object.push([key, this.value(this.next())]);
            t = this.next();
            if (t.type === "T_OBJ_END") break;
            if (t.type !== "T_COMMA") this.throwAt("comma or object end", t);
            t = this.next();
          }
        }
        this.depth--;
        return { object };
      }
      case "T_ARR_BEGIN": {
        this.descend();
        const array: CjsonValue[] = [];
        let t = this.next();
        if (t.type !== "T_ARR_END") {
          for (;;) {
            array.push(this.value(t));
            t = this.next();
            if (t.type === "T_ARR_END") break;
            if (t.type !== "T_COMMA") this.throwAt("comma or array end", t);
            t = this.next();
          }
        }
        this.depth--;
        return { array };
      }
      default:
        return this.throwAt("value", token);
    }
  }
}

/** json_decode: the value, or a CjsonError with lua_cjson.c's text. */
export function cjsonDecode(input: Buffer): CjsonValue {
  if (input.length >= 2 && (input[0] === 0 || input[1] === 0)) {
    throw new CjsonError("JSON parser does not support UTF-16 or UTF-32");
  }
  const p = new Parser(input);
  const value = p.value(p.next());
  const end = p.next();
  if (end.type !== "T_END") p.throwAt("the end", end);
  return value;
}
