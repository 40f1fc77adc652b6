/**
 * Inline commands, both ways: splitting a line into arguments exactly as Redis's sdssplitargs
 * does (so the honeypot sees what a real server would), and quoting arguments so that any
 * byte string survives that split.
 */

const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const BACKSLASH = 0x5c;
const STAR = 0x2a;

/** C isspace() in the C locale. */
function isSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

/** Ends an unquoted word. Narrower than isSpace: \v and \f inside a word are part of it. */
function endsWord(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function isHex(byte: number): boolean {
  return hexValue(byte) >= 0;
}

/** The byte a backslash escape stands for inside "double quotes". */
function escapedByte(byte: number): number {
  switch (byte) {
    case 0x6e: // n
      return 0x0a;
    case 0x72: // r
      return 0x0d;
    case 0x74: // t
      return 0x09;
    case 0x62: // b
      return 0x08;
    case 0x61: // a
      return 0x07;
    default:
      return byte;
  }
}

/**
 * Splits an inline command line into arguments like Redis's sdssplitargs: blanks separate
 * words; "double quotes" take \n \r \t \b \a \xHH and \<any> escapes; 'single quotes' take
 * only \'; a closing quote must be followed by a blank or the end. Returns null where Redis
 * answers "unbalanced quotes". The arguments are copies, never views of `line`.
 */
export function splitArgs(line: Buffer): Buffer[] | null {
  // sdssplitargs walks a C string: whatever follows a NUL byte is not part of the request.
  const nul = line.indexOf(0);
  const end = nul === -1 ? line.length : nul;
  const at = (k: number): number => (k < end ? line[k]! : 0);
  const args: Buffer[] = [];
  let p = 0;
  for (;;) {
    while (p < end && isSpace(line[p]!)) p++;
    if (p === end) return args;

    // Most words have no quotes: take them as one slice.
    let q = p;
    while (q < end && !endsWord(line[q]!) && line[q] !== DOUBLE_QUOTE && line[q] !== SINGLE_QUOTE) {
      q++;
    }
    if (q === end || endsWord(line[q]!)) {
      args.push(Buffer.from(line.subarray(p, q)));
      p = q;
      continue;
    }

    const word: number[] = [];
    for (let k = p; k < q; k++) word.push(line[k]!);
    p = q;
    let quote = 0;
    for (let done = false; !done; ) {
      const c = at(p);
      if (quote === DOUBLE_QUOTE) {
        if (c === BACKSLASH && at(p + 1) === 0x78 && isHex(at(p + 2)) && isHex(at(p + 3))) {
          word.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === BACKSLASH && at(p + 1) !== 0) {
          p++;
          const escaped = line[p]!;
          word.push(escapedByte(escaped));
        } else if (c === DOUBLE_QUOTE) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          word.push(c);
        }
      } else if (quote === SINGLE_QUOTE) {
        if (c === BACKSLASH && at(p + 1) === SINGLE_QUOTE) {
          p++;
          word.push(SINGLE_QUOTE);
        } else if (c === SINGLE_QUOTE) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          word.push(c);
        }
      } else if (c === 0 || endsWord(c)) {
        done = true;
      } else if (c === DOUBLE_QUOTE || c === SINGLE_QUOTE) {
        quote = c;
      } else {
        word.push(c);
      }
      if (p < end) p++;
    }
    args.push(Buffer.from(word));
  }
}

/**
 * One argument as it must be written on an inline line to come back unchanged from splitArgs:
 * bare when it is plain printable ASCII, otherwise double-quoted with escapes (as redis-cli
 * and sdscatrepr write it). `first` also quotes a leading `*`, which would make a server read
 * the line as a multibulk header.
 */
export function quoteInlineArg(arg: string | Buffer, first = false): string {
  const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : arg;
  let bare = bytes.length > 0 && !(first && bytes[0] === STAR);
  for (let k = 0; bare && k < bytes.length; k++) {
    const b = bytes[k]!;
    bare = b > 0x20 && b < 0x7f && b !== DOUBLE_QUOTE && b !== SINGLE_QUOTE;
  }
  return bare ? bytes.toString("latin1") : reprArg(bytes);
}

/**
 * Bytes double-quoted with escapes as Redis's sdscatrepr writes them (MONITOR's lines, and
 * redis-cli's quoting): \\ \" \n \r \t \a \b, other non-printable bytes as \xHH.
 */
export function reprArg(bytes: Buffer): string {
  let quoted = '"';
  for (const b of bytes) {
    if (b === BACKSLASH) quoted += "\\\\";
    else if (b === DOUBLE_QUOTE) quoted += '\\"';
    else if (b === 0x0a) quoted += "\\n";
    else if (b === 0x0d) quoted += "\\r";
    else if (b === 0x09) quoted += "\\t";
    else if (b === 0x07) quoted += "\\a";
    else if (b === 0x08) quoted += "\\b";
    else if (b < 0x20 || b >= 0x7f) quoted += `\\x${b.toString(16).padStart(2, "0")}`;
    else quoted += String.fromCharCode(b);
  }
  return `${quoted}"`;
}
