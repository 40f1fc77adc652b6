/**
 * LOLWUT (lolwut.c, lolwut5.c, lolwut6.c): computer art and the version. Each version's
 * default is its own piece: 5.x draws Georg Nees' "Schotter" in braille, 6.x a city skyline
 * in terminal colours, 7.0+ (and Valkey) only say "Redis ver. <version>". From 6.0,
 * `LOLWUT VERSION <n>` picks another version's piece (5.0 has no VERSION option: its first
 * argument is the number of columns). Both pieces are random (rand()) on a real server too, so
 * no two replies are the same; what is fixed — sizes, limits, the caption, the reply type
 * (6.0+ verbatim `txt` for RESP3) — is as the C source has it.
 *
 * Bounded: a real server draws any canvas the limits allow (up to 2000 × 400k pixels for
 * Schotter). The honeypot draws at most MAX_PIXELS of it (the top rows), so a visitor cannot
 * make it allocate or send more than a few MB; the default sizes are far below.
 */
import { bulk, verbatim } from "../../resp/index.js";
import { NOT_INTEGER } from "../personas/texts.js";
import { errorReply, type Reply } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory } from "./spec.js";

const MAX_PIXELS = 256 * 1024;

/** A canvas of colour indexes (lwCanvas); drawing outside it is ignored. */
class Canvas {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: number,
  ) {
    this.pixels = new Uint8Array(width * height).fill(background);
  }
  set(x: number, y: number, color: number): void {
    if (x < 0 || x >= this.width || y < 0 || y >= this.height) return;
    this.pixels[x + y * this.width] = color;
  }
  get(x: number, y: number): number {
    if (x < 0 || x >= this.width || y < 0 || y >= this.height) return 0;
    return this.pixels[x + y * this.width]!;
  }
  /** lwDrawLine: Bresenham. */
  line(x1: number, y1: number, x2: number, y2: number, color: number): void {
    const dx = Math.abs(x2 - x1);
    const dy = Math.abs(y2 - y1);
    const sx = x1 < x2 ? 1 : -1;
    const sy = y1 < y2 ? 1 : -1;
    let err = dx - dy;
    for (;;) {
      this.set(x1, y1, color);
      if (x1 === x2 && y1 === y2) break;
      const e2 = err * 2;
      if (e2 > -dy) {
        err -= dy;
        x1 += sx;
      }
      if (e2 < dx) {
        err += dx;
        y1 += sy;
      }
    }
  }
  /** lwDrawSquare: a square of side `size` centred on x,y, rotated by `angle`. */
  square(x: number, y: number, size: number, angle: number, color: number): void {
    // The C divides by 1.4142135623: the side of a square inscribed in a circle of radius 1.
    const s = cRound(Math.fround(size / Math.SQRT2));
    const px: number[] = [];
    const py: number[] = [];
    let k = Math.fround(Math.PI / 4 + angle);
    for (let j = 0; j < 4; j++) {
      px.push(cRound(Math.sin(k) * s + x));
      py.push(cRound(Math.cos(k) * s + y));
      k = Math.fround(k + Math.PI / 2);
    }
    for (let j = 0; j < 4; j++) {
      this.line(px[j]!, py[j]!, px[(j + 1) % 4]!, py[(j + 1) % 4]!, color);
    }
  }
}

/** C's round(): halves away from zero. */
function cRound(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** rand() as a fraction of RAND_MAX, and rand() % n. */
const frand = (): number => Math.random();
const rand = (n: number): number => Math.floor(Math.random() * n);

/** getLongFromObjectOrReply's parse: a whole signed 64-bit decimal, else undefined. */
function parseLong(text: string): number | undefined {
  if (!/^-?(0|[1-9]\d*)$/.test(text)) return undefined;
  const n = BigInt(text);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return undefined;
  return Number(n);
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** At most MAX_PIXELS: the rows beyond are not drawn (see the file comment). */
function rowsWithin(width: number, height: number): number {
  return Math.max(1, Math.min(height, Math.floor(MAX_PIXELS / width)));
}

/** lwDrawSchotter and lolwut5's renderCanvas: braille, 2×4 pixels a character. */
function schotter(cols: number, perRow: number, perCol: number): string {
  const width = cols * 2;
  const padding = width > 4 ? 2 : 0;
  const side = Math.fround((width - padding * 2) / perRow);
  const fullHeight = Math.trunc(side * perCol + padding * 2);
  const canvas = new Canvas(width, rowsWithin(width, fullHeight), 0);
  for (let y = 0; y < perCol; y++) {
    if (Math.trunc(y * side) > canvas.height + side) break; // below what is drawn
    for (let x = 0; x < perRow; x++) {
      let sx = Math.trunc(x * side + side / 2 + padding);
      let sy = Math.trunc(y * side + side / 2 + padding);
      let angle = 0;
      if (y > 1) {
        let r1 = (frand() / perCol) * y;
        let r2 = (frand() / perCol) * y;
        let r3 = (frand() / perCol) * y;
        if (rand(2)) r1 = -r1;
        if (rand(2)) r2 = -r2;
        if (rand(2)) r3 = -r3;
        angle = r1;
        sx = Math.trunc(sx + (r2 * side) / 3);
        sy = Math.trunc(sy + (r3 * side) / 3);
      }
      canvas.square(sx, sy, side, angle, 1);
    }
  }
  const out: string[] = [];
  for (let y = 0; y < canvas.height; y += 4) {
    let line = "";
    for (let x = 0; x < canvas.width; x += 2) {
      let byte = 0;
      if (canvas.get(x, y)) byte |= 1 << 0;
      if (canvas.get(x, y + 1)) byte |= 1 << 1;
      if (canvas.get(x, y + 2)) byte |= 1 << 2;
      if (canvas.get(x + 1, y)) byte |= 1 << 3;
      if (canvas.get(x + 1, y + 1)) byte |= 1 << 4;
      if (canvas.get(x + 1, y + 2)) byte |= 1 << 5;
      if (canvas.get(x, y + 3)) byte |= 1 << 6;
      if (canvas.get(x + 1, y + 3)) byte |= 1 << 7;
      line += String.fromCharCode(0x2800 + byte);
    }
    out.push(line);
    if (y !== canvas.height - 1) out.push("\n");
  }
  return out.join("");
}

/** generateSkyscraper of lolwut6.c. */
function skyscraper(
  canvas: Canvas,
  xoff: number,
  width: number,
  height: number,
  windows: boolean,
  color: number,
): void {
  const starty = canvas.height - 1;
  const endy = starty - height + 1;
  for (let y = starty; y >= endy; y--) {
    for (let x = xoff; x < xoff + width; x++) {
      if (y === endy && (x <= xoff + 1 || x >= xoff + width - 2)) continue;
      let c = color;
      if (windows && x > xoff + 1 && x < xoff + width - 2 && y > endy + 1 && y < starty - 1) {
        const relx = x - (xoff + 1);
        const rely = y - (endy + 1);
        if (Math.trunc(relx / 2) % 2 && rely % 2) {
          do c = 1 + rand(2);
          while (c === color);
          if (relx % 2) c = canvas.get(x - 1, y);
        }
      }
      canvas.set(x, y, c);
    }
  }
}

/** generateSkyline and lolwut6's renderCanvas: ANSI colours, one space a pixel. */
function skyline(cols: number, rows: number): string {
  const canvas = new Canvas(cols, rowsWithin(cols, rows), 3);
  const h = canvas.height;
  for (let color = 2; color >= 1; color--) {
    for (let offset = -10; offset < canvas.width; ) {
      offset += rand(8);
      const width = 10 + rand(9);
      // canvas->height/2 + rand()%canvas->height/2 (or /3): (rand() % h) / 2.
      const height = Math.trunc(h / 2) + Math.trunc(rand(h) / (color === 2 ? 2 : 3));
      skyscraper(canvas, offset, width, height, false, color);
      offset += color === 2 ? Math.trunc(width / 2) : width + 1;
    }
  }
  for (let offset = -10; offset < canvas.width; ) {
    offset += rand(8);
    let width = 5 + rand(14);
    if (width % 4) width += width % 3;
    const height = Math.trunc(h / 3) + Math.trunc(rand(h) / 2);
    skyscraper(canvas, offset, width, height, true, 0);
    offset += width + 5;
  }
  const escapes = ["0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m"];
  const out: string[] = [];
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < canvas.width; x++) {
      out.push(`\x1b[${escapes[canvas.get(x, y)] ?? escapes[0]} \x1b[0m`);
    }
    if (y !== canvas.height - 1) out.push("\n");
  }
  return out.join("");
}

/** The piece, or the error of an argument that is not a number (getLongFromObjectOrReply). */
function lolwut5(args: string[], version: string): string | { error: string } {
  const n = [66, 8, 12];
  for (let i = 0; i < 3 && i < args.length; i++) {
    const v = parseLong(args[i]!);
    if (v === undefined) return { error: NOT_INTEGER };
    n[i] = v;
  }
  const art = schotter(clamp(n[0]!, 1, 1000), clamp(n[1]!, 1, 200), clamp(n[2]!, 1, 200));
  return `${art}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ${version}\n`;
}

function lolwut6(args: string[], version: string): string | { error: string } {
  const n = [80, 20];
  for (let i = 0; i < 2 && i < args.length; i++) {
    const v = parseLong(args[i]!);
    if (v === undefined) return { error: NOT_INTEGER };
    n[i] = v;
  }
  const art = skyline(clamp(n[0]!, 1, 1000), clamp(n[1]!, 1, 1000));
  return `${art}\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. ${version}\n`;
}

function lolwut(c: CommandContext): Reply {
  const version = c.era.version;
  let args = c.args.slice(1).map((a) => a.toString("latin1"));
  let v = version;
  if (c.era.at("6.0") && args.length >= 2 && args[0]!.toLowerCase() === "version") {
    const ver = parseLong(args[1]!);
    if (ver === undefined) return errorReply(NOT_INTEGER);
    // snprintf("%u.0.0", (unsigned int)ver)
    v = `${ver >>> 0}.0.0`;
    args = args.slice(2);
  }
  // lolwutCommand's choice, on the version string (5.0: 5.x is always Schotter).
  const five = c.era.before("6.0")
    ? v.startsWith("5.")
    : (v.startsWith("5.") && v[2] !== "9") || v.startsWith("4.9");
  const six = c.era.at("6.0") && ((v.startsWith("6.") && v[2] !== "9") || v.startsWith("5.9"));
  const text = five
    ? lolwut5(args, version)
    : six
      ? lolwut6(args, version)
      : `Redis ver. ${version}\n`;
  if (typeof text !== "string") return errorReply(text.error);
  // Braille is UTF-8 on the wire; the rest is ASCII.
  const bytes = Buffer.from(text, "utf8");
  return c.era.at("6.0") && c.state.proto === 3 ? verbatim(bytes) : bulk(bytes);
}

export const LOLWUT_COMMANDS: CommandSpec[] = inCategory("admin", [
  { name: "lolwut", arity: -1, since: "5.0", handler: lolwut },
]);
