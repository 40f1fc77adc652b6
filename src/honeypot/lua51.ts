/**
 * Lua 5.1's lexical rules over Lua 5.4's compiler: a script's text is rewritten, without moving
 * a line, so that what 5.1 rejects or reads otherwise is rejected or read as 5.1 does, and the
 * compiler's messages are put back in 5.1's words (lua.ts runs PUC Lua 5.4; Redis runs 5.1).
 *
 * - 5.4's operators (`//`, `&`, `|`, `~`, `<<`, `>>`, `::`) and a local's `<attrib>` are
 *   lexed by 5.1 as single characters: the character 5.4 would join or read as an operator is
 *   replaced by a placeholder byte 5.4 also reads as a lone, unknown symbol, so both parsers
 *   stop at the same token; the message names the original character again.
 * - `goto` and `_ENV` are plain names in 5.1: renamed to names 5.4 gives no meaning (and
 *   renamed back in every message).
 * - Numbers: 5.1 has only doubles. An integer numeral (`10`, `0x10`) is written as a float
 *   (`10.0`, `0x10.0`), so arithmetic on literals is 5.1's (`1 % 0` is nan, `2^53 + 1` rounds,
 *   `0xffffffffffffffff` is 1.8e19), and lua.ts prints floats as 5.1 does.
 * - In strings, 5.1 reads an unknown escape (`\x41`, `\z`, `\u{…}`, `\q`) as the character
 *   itself: the backslash is dropped.
 * - Messages: `near <eof>` is quoted, "syntax error" of an expression statement is 5.1's
 *   "'=' expected", unprintable tokens are written as 5.1 writes them (`char(N)`, raw bytes),
 *   "(starting at line N)" and 5.4's break wording are 5.1's.
 */

/** Placeholder bytes (control characters no script is expected to hold outside a string). */
const PLACEHOLDERS: Record<string, number> = {
  "/": 1,
  "&": 2,
  "|": 3,
  "~": 4,
  "<": 5,
  ">": 6,
  ":": 7,
};
const ORIGINAL = new Map(Object.entries(PLACEHOLDERS).map(([c, b]) => [b, c]));
/** Names 5.4 reserves or gives a meaning, and what they become. */
const RENAMED: Record<string, string> = { goto: "__lua51_goto", _ENV: "__lua51_ENV" };
const RENAMED_BACK = Object.entries(RENAMED).map(([name, as]) => [as, name] as const);

const isNameStart = (b: number): boolean =>
  (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;
const isNameChar = (b: number): boolean => isNameStart(b) || (b >= 0x30 && b <= 0x39);
const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/** 5.1's escapes: a backslash before anything else stands for that character. */
const ESCAPES = new Set(Array.from("abfnrtv\\\"'\n\r0123456789", (c) => c.charCodeAt(0)));

/** The level of a long bracket opening at i (`[`, `=`…, `[`), or -1. */
function longBracket(src: Buffer, i: number): number {
  if (src[i] !== 0x5b) return -1;
  let j = i + 1;
  while (src[j] === 0x3d) j++;
  return src[j] === 0x5b ? j - i - 1 : -1;
}

/** End (exclusive) of a long bracket of `level` whose body starts at i; src.length if none. */
function longEnd(src: Buffer, i: number, level: number): number {
  const close = Buffer.from(`]${"=".repeat(level)}]`, "latin1");
  const at = src.indexOf(close, i);
  return at < 0 ? src.length : at + close.length;
}

/** The script's text as 5.4 must see it to answer as 5.1 does. */
export function as51Source(src: Buffer): Buffer {
  // A script holding the placeholder bytes itself keeps its operators (its messages would mix).
  const placeholders = !src.some((b) => b >= 1 && b <= 7);
  const out: Buffer[] = [];
  let from = 0;
  const put = (at: number, bytes: Buffer | string) => {
    out.push(
      src.subarray(from, at),
      typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes,
    );
  };
  const mark = (at: number, c: string) => {
    if (!placeholders) return;
    put(at, Buffer.from([PLACEHOLDERS[c]!]));
    from = at + 1;
  };
  // The local statement's names: `local a <const>` reads as 5.1 reads `local a` then `<`.
  let localNames: "off" | "name" | "after" = "off";
  let i = 0;
  while (i < src.length) {
    const b = src[i]!;
    if (isSpace(b)) {
      i++;
      continue;
    }
    // Comments.
    if (b === 0x2d && src[i + 1] === 0x2d) {
      const level = longBracket(src, i + 2);
      if (level >= 0) i = longEnd(src, i + 2 + level + 2, level);
      else {
        const nl = src.indexOf(0x0a, i);
        i = nl < 0 ? src.length : nl;
      }
      continue;
    }
    const state = localNames;
    localNames = "off";
    // Long strings.
    const level = longBracket(src, i);
    if (level >= 0) {
      i = longEnd(src, i + level + 2, level);
      continue;
    }
    // Short strings: unknown escapes lose their backslash.
    if (b === 0x22 || b === 0x27) {
      let j = i + 1;
      while (j < src.length && src[j] !== b && src[j] !== 0x0a) {
        if (src[j] === 0x5c && j + 1 < src.length) {
          if (!ESCAPES.has(src[j + 1]!)) {
            put(j, "");
            from = j + 1;
          }
          j += 2;
          continue;
        }
        j++;
      }
      i = j + 1;
      continue;
    }
    if (isNameStart(b)) {
      let j = i + 1;
      while (j < src.length && isNameChar(src[j]!)) j++;
      const name = src.toString("latin1", i, j);
      const as = RENAMED[name];
      if (as !== undefined) {
        put(i, as);
        from = j;
      }
      if (name === "local") localNames = "name";
      else if (state === "name" && name !== "function") localNames = "after";
      i = j;
      continue;
    }
    if ((b >= 0x30 && b <= 0x39) || (b === 0x2e && src[i + 1]! >= 0x30 && src[i + 1]! <= 0x39)) {
      // A numeral (5.1 reads digits, letters, dots and an exponent's sign as one).
      let j = i + 1;
      while (
        j < src.length &&
        (isNameChar(src[j]!) ||
          src[j] === 0x2e ||
          ((src[j] === 0x2b || src[j] === 0x2d) && (src[j - 1] === 0x65 || src[j - 1] === 0x45)))
      ) {
        j++;
      }
      if (/^(?:[0-9]+|0[xX][0-9a-fA-F]+)$/.test(src.toString("latin1", i, j))) {
        put(j, ".0");
        from = j;
      }
      i = j;
      continue;
    }
    const next = src[i + 1];
    if (b === 0x2c && state === "after") localNames = "name";
    else if (b === 0x3c && state === "after") mark(i, "<");
    else if (b === 0x2f && next === 0x2f) mark(i + 1, "/");
    else if (b === 0x26) mark(i, "&");
    else if (b === 0x7c) mark(i, "|");
    else if (b === 0x7e && next !== 0x3d) mark(i, "~");
    else if (b === 0x3c && next === 0x3c) mark(i + 1, "<");
    else if (b === 0x3e && next === 0x3e) mark(i + 1, ">");
    else if (b === 0x3a && next === 0x3a) mark(i + 1, ":");
    // `~=`, `<=`, `>=`, `==`, `..`, `...`: two characters both versions read alike.
    if ((b === 0x7e || b === 0x3c || b === 0x3e || b === 0x3d) && next === 0x3d) i += 2;
    else if (b === 0x2f && next === 0x2f) i += 2;
    else i++;
  }
  if (out.length === 0) return src;
  out.push(src.subarray(from));
  return Buffer.concat(out);
}

/** Names renamed by as51Source, back as the script wrote them. */
export function unrename(text: string): string {
  let t = text;
  for (const [as, name] of RENAMED_BACK) if (t.includes(as)) t = t.split(as).join(name);
  return t;
}

/** A 5.4 compile message in 5.1's words. */
export function as51Message(text: string, src: Buffer, wrapped: boolean): string {
  const placeholders = !src.some((b) => b >= 1 && b <= 7);
  return (
    unrename(text)
      .replace(/near <eof>/g, "near '<eof>'")
      .replace(/(: )<eof> expected/, "$1'<eof>' expected")
      // 5.4 names no token here; 5.1 names the one after `break` (commonly the last).
      .replace(
        /break outside loop at line \d+$/,
        `no loop to break near '${wrapped ? "end" : "<eof>"}'`,
      )
      // An expression statement that is not a call: 5.4 says "syntax error", 5.1's
      // assignment wanted its '=' (unless the next token was one: a syntax error in 5.1 too).
      .replace(/: syntax error near (?!'[=,]'$)/, ": '=' expected near ")
      .replace(/ \(starting at line \d+\)/, "")
      // 5.4 writes an unprintable token '<\N>'; 5.1 writes control characters char(N) and any
      // other byte as itself; a placeholder is the character it stands for.
      .replace(/'<\\(\d+)>'/g, (_all, n: string) => {
        const code = Number(n);
        const original = placeholders ? ORIGINAL.get(code) : undefined;
        if (original !== undefined) return `'${original}'`;
        if (code < 0x20 || code === 0x7f) return `'char(${code})'`;
        return `'${String.fromCharCode(code)}'`;
      })
  );
}
