/**
 * The only commands a scan may send to a server that is not ours (DESIGN.md "Probing rules").
 * Everything the scanner writes is built here and checked against this list; a test replays a
 * whole scan into a recording server and compares every received command with it.
 */
import { encodeCommand } from "../resp/index.js";

/** Commands as argument vectors, upper-case, exactly as they go on the wire. */
export const ALLOWED_COMMANDS: readonly (readonly string[])[] = [
  ["PING"],
  // RESP3 handshake: its reply (or its error wording) dates the server without authenticating.
  ["HELLO", "3"],
  ["INFO"],
  ["INFO", "server"],
  ["QUIT"],
];

const allowed = new Set(ALLOWED_COMMANDS.map((c) => c.join(" ")));

export function isAllowed(args: readonly string[]): boolean {
  return allowed.has(args.join(" "));
}

/** Encode a pipeline of commands; refuses anything outside the allow-list. */
export function buildRequest(commands: readonly (readonly string[])[]): Buffer {
  for (const c of commands) {
    if (!isAllowed(c)) throw new Error(`command not in the scan allow-list: ${c.join(" ")}`);
  }
  return Buffer.concat(commands.map((c) => encodeCommand([...c])));
}
