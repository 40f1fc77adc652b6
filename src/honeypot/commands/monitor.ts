/**
 * MONITOR: the connection sees every command its source's connections run, one status line
 * each, as replicationFeedMonitors writes it: `+<sec>.<usec> [<db> <peer>] "ARG" "ARG"…`.
 * Before 6.2 a command is shown before it runs, from 6.2 after; administrative commands and
 * those flagged skip_monitor are never shown, and 6.2+ hides AUTH's and HELLO AUTH's secrets.
 */
import { reprArg } from "../../resp/index.js";
import type { Era } from "../personas/era.js";
import type { RecordedCommand } from "../personas/tables.js";
import { OK, type Reply } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, type SessionState } from "./spec.js";

const NO_REPLY: Reply = { type: "raw", bytes: Buffer.alloc(0) };

/** MONITOR: the connection becomes a monitor; asked again, it gets no reply (as a replica). */
function monitor(c: CommandContext): Reply {
  if (c.state.monitor) return NO_REPLY;
  c.state.monitor = true;
  return OK;
}

export const MONITOR_COMMANDS: CommandSpec[] = inCategory("admin", [
  { name: "monitor", arity: 1, handler: monitor },
]);

/** Whether any connection of these states monitors (most worlds have none: no line is built). */
export function anyMonitor(states: Iterable<{ state: SessionState }>): boolean {
  for (const s of states) if (s.state.monitor) return true;
  return false;
}

/**
 * Is the command one MONITOR never shows (admin or skip_monitor in the version's table; a
 * 7.0+ subcommand by its own flags)? Unknown commands never reach MONITOR at all.
 */
export function hiddenFromMonitor(
  recorded: ReadonlyMap<string, RecordedCommand> | undefined,
  args: Buffer[],
): boolean {
  const name = args[0]!.toString("latin1").toLowerCase();
  const rec = recorded?.get(name);
  if (rec === undefined) return name === "monitor";
  const sub =
    rec.subcommands.size > 0 && args.length > 1
      ? rec.subcommands.get(args[1]!.toString("latin1").toLowerCase())
      : undefined;
  const flags = sub?.flags ?? rec.flags;
  return flags.includes("admin") || flags.includes("skip_monitor");
}

/** Arguments 6.2+ shows as `(redacted)`: AUTH's, and HELLO's after AUTH. */
function redacted(era: Era, args: Buffer[]): Set<number> {
  const out = new Set<number>();
  if (era.before("6.2")) return out;
  const name = args[0]!.toString("latin1").toLowerCase();
  if (name === "auth") for (let i = 1; i < args.length; i++) out.add(i);
  if (name === "hello") {
    for (let i = 2; i + 2 < args.length; i++) {
      if (args[i]!.toString("latin1").toLowerCase() === "auth") {
        out.add(i + 1).add(i + 2);
        break;
      }
    }
  }
  return out;
}

/** The line monitors get for a command, with its time, db and peer (`ip:port` or `lua`). */
export function monitorLine(
  era: Era,
  nowMs: number,
  db: number,
  peer: string,
  args: Buffer[],
): Buffer {
  const sec = Math.floor(nowMs / 1000);
  // The persona's clock is in ms (fractions kept): microseconds as Redis prints them.
  const usec = String(Math.floor((nowMs * 1000) % 1_000_000)).padStart(6, "0");
  const hide = redacted(era, args);
  const words = args.map((a, i) => (hide.has(i) ? '"(redacted)"' : reprArg(a)));
  return Buffer.from(`+${sec}.${usec} [${db} ${peer}] ${words.join(" ")}\r\n`, "latin1");
}
