/**
 * LOLWUT (lolwut.c, lolwut5.c): Redis 5's art, Georg Nees's "Schotter" drawn in braille with
 * random rotations as lwDrawSchotter draws it, and the plain version line of the versions
 * without art of their own (7.x). 6.0+ takes `VERSION n` to pick the art. Redis 6's own art
 * (lolwut6.c) is not drawn here: LOLWUT without VERSION on 6.x answers as a server without
 * the command.
 */
import { bulk, verbatim } from "../../resp/index.js";
import { NOT_INTEGER, unknownCommandText } from "../personas/texts.js";
import { parseInt64 } from "./integers.js";
import { errorReply, type Reply } from "./reply.js";
import type { CommandContext } from "./spec.js";

class Canvas {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(Math.max(0, width * height));
  }
  set(x: number, y: number): void {
    if (x < 0 || x >= this.width || y < 0 || y >= this.height) return;
    this.pixels[x + y * this.width] = 1;
  }
  get(x: number, y: number): number {
    if (x < 0 || x >= this.width || y < 0 || y >= this.height) return 0;
    return this.pixels[x + y * this.width]!;
  }
  line(x1: number, y1: number, x2: number, y2: number): void {
    const dx = Math.abs(x2 - x1);
    const dy = Math.abs(y2 - y1);
    const sx = x1 < x2 ? 1 : -1;
    const sy = y1 < y2 ? 1 : -1;
    let err = dx - dy;
    for (;;) {
      this.set(x1, y1);
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
  square(x: number, y: number, size: number, angle: number): void {
    // lwDrawSquare divides by the constant as written there (not quite √2).
    const SQRT2_AS_WRITTEN = Number("1.4142135623");
    const side = Math.round(Math.fround(size / SQRT2_AS_WRITTEN));
    const px: number[] = [];
    const py: number[] = [];
    let k = Math.fround(Math.PI / 4 + angle);
    for (let j = 0; j < 4; j++) {
      px.push(Math.round(Math.sin(k) * side + x));
      py.push(Math.round(Math.cos(k) * side + y));
      k = Math.fround(k + Math.PI / 2);
    }
    for (let j = 0; j < 4; j++) this.line(px[j]!, py[j]!, px[(j + 1) % 4]!, py[(j + 1) % 4]!);
  }
}

/** lwDrawSchotter: float arithmetic as C's, truncations as its int conversions. */
function schotter(cols: number, perRow: number, perCol: number): Canvas {
  const width = cols * 2;
  const padding = width > 4 ? 2 : 0;
  const side = Math.fround((width - padding * 2) / perRow);
  const height = Math.trunc(Math.fround(side * perCol) + padding * 2);
  const canvas = new Canvas(width, height);
  const rnd = (y: number): number => Math.fround(Math.fround(Math.random() / perCol) * y);
  for (let y = 0; y < perCol; y++) {
    for (let x = 0; x < perRow; x++) {
      let sx = Math.trunc(x * side + side / 2 + padding);
      let sy = Math.trunc(y * side + side / 2 + padding);
      let angle = 0;
      if (y > 1) {
        let r1 = rnd(y);
        let r2 = rnd(y);
        let r3 = rnd(y);
        if (Math.random() < 0.5) r1 = -r1;
        if (Math.random() < 0.5) r2 = -r2;
        if (Math.random() < 0.5) r3 = -r3;
        angle = r1;
        sx = Math.trunc(sx + (r2 * side) / 3);
        sy = Math.trunc(sy + (r3 * side) / 3);
      }
      canvas.square(sx, sy, side, angle);
    }
  }
  return canvas;
}

/** renderCanvas: each 2×4 block of pixels one braille character (UTF-8), rows by "\n". */
function render(canvas: Canvas): string {
  let text = "";
  for (let y = 0; y < canvas.height; y += 4) {
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
      text += String.fromCharCode(0x2800 + byte);
    }
    if (y !== canvas.height - 1) text += "\n";
  }
  return text;
}

function textReply(c: CommandContext, text: string): Reply {
  const bytes = Buffer.from(text, "utf8");
  return c.state.proto === 3 ? verbatim(bytes) : bulk(bytes);
}

const clamp = (n: bigint, lo: number, hi: number): number =>
  Number(n < BigInt(lo) ? BigInt(lo) : n > BigInt(hi) ? BigInt(hi) : n);

/** lolwut5Command: LOLWUT [columns] [squares per row] [squares per column]. */
function lolwut5(c: CommandContext, args: readonly string[]): Reply {
  const n = [66n, 8n, 12n];
  for (let i = 0; i < 3 && i < args.length; i++) {
    const v = parseInt64(args[i]!);
    if (v === undefined) return errorReply(NOT_INTEGER);
    n[i] = v;
  }
  const canvas = schotter(clamp(n[0]!, 1, 1000), clamp(n[1]!, 1, 200), clamp(n[2]!, 1, 200));
  return textReply(
    c,
    `${render(canvas)}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ${c.era.version}\n`,
  );
}

/** KeyDB keeps lolwut.c but never put the command in its table. */
function unknown(c: CommandContext): Reply {
  return errorReply(
    unknownCommandText(
      c.era,
      c.args[0]!.toString("latin1"),
      c.args.slice(1).map((a) => a.toString("latin1")),
    ),
  );
}

export function lolwut(c: CommandContext): Reply {
  if (c.era.keydb) return unknown(c);
  let args = c.args.slice(1).map((a) => a.toString("latin1"));
  let major = Number(c.era.version.split(".")[0]);
  if (c.era.at("6.0") && args.length >= 2 && args[0]!.toLowerCase() === "version") {
    const v = parseInt64(args[1]!);
    if (v === undefined) return errorReply(NOT_INTEGER);
    // snprintf("%u.0.0", ver): only the first characters decide.
    major = Number(BigInt.asUintN(32, v));
    args = args.slice(2);
  }
  if (major === 5) return lolwut5(c, args);
  // Redis 6's art (lolwut6.c) is not drawn: answered as a server without the command.
  if (major === 6) return unknown(c);
  return textReply(c, `Redis ver. ${c.era.version}\n`);
}
