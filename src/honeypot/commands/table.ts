/**
 * The command table of a version: every command the honeypot answers, one file per family as
 * Redis keeps them (t_string.c, t_list.c … here strings.ts, lists.ts …), with the commands and
 * subcommands that version did not have left out (they get the era's "unknown command").
 * Replies and error texts are Redis 7.0's (checked against a real 7.0.15 by the fidelity
 * suite's differential test) with the earlier wordings where a version changed them. Nothing a
 * visitor asks for is executed: files, replication, modules and scripts are only reported, as
 * each handler's effect for the recorder.
 *
 * Where the version was recorded from a real build (personas/tables.ts), the recording decides
 * which commands exist and their arity: the recorded arity wins over a spec's `arity` (which
 * stays the fallback for versions without a recording), and a command the real version has
 * but the honeypot has no handler for yet passes arity and authentication as on the real
 * server, then answers as an unknown command (see `unimplemented`). COMMAND answers the
 * recording itself (introspection.ts).
 */

import type { Era } from "../personas/era.js";
import {
  type RecordedCommand,
  type Recording,
  recording,
  recordingFor,
} from "../personas/tables.js";
import {
  arityText,
  subcommandSyntaxText,
  unknownCommandText,
  unknownSubcommandText,
} from "../personas/texts.js";
import { ACL_COMMANDS } from "./acl.js";
import { BIT_COMMANDS } from "./bits.js";
import { CLUSTER_COMMANDS } from "./cluster.js";
import { CONNECTION_COMMANDS } from "./connection.js";
import { DUMP_COMMANDS } from "./dump.js";
import { HASH_COMMANDS } from "./hashes.js";
import { HYPERLOGLOG_COMMANDS } from "./hyperloglog.js";
import { INTROSPECTION_COMMANDS } from "./introspection.js";
import { KEY_COMMANDS } from "./keys.js";
import { LIST_COMMANDS } from "./lists.js";
import { LOLWUT_COMMANDS } from "./lolwut.js";
import { MODULE_COMMANDS } from "./module.js";
import { MONITOR_COMMANDS } from "./monitor.js";
import { PUBSUB_COMMANDS } from "./pubsub.js";
import { REPLICATION_COMMANDS } from "./replication.js";
import { errorReply, type Reply } from "./reply.js";
import { SCRIPTING_COMMANDS } from "./scripting.js";
import { SERVER_COMMANDS } from "./server.js";
import { SET_COMMANDS } from "./sets.js";
import { SORT_COMMANDS } from "./sort.js";
import {
  arityOk,
  type CommandContext,
  type CommandFlag,
  type CommandSpec,
  type CommandTable,
  type Handler,
  type SubcommandSpec,
} from "./spec.js";
import { STREAM_COMMANDS } from "./streams.js";
import { STRING_COMMANDS } from "./strings.js";
import { TRANSACTION_COMMANDS } from "./transactions.js";
import { ZSET_COMMANDS } from "./zsets.js";

/** Every family's commands, in the order COMMAND lists them. */
const ALL: CommandSpec[] = [
  ...STRING_COMMANDS,
  ...BIT_COMMANDS,
  ...LIST_COMMANDS,
  ...HASH_COMMANDS,
  ...SET_COMMANDS,
  ...ZSET_COMMANDS,
  ...HYPERLOGLOG_COMMANDS,
  ...STREAM_COMMANDS,
  ...KEY_COMMANDS,
  ...SORT_COMMANDS,
  ...DUMP_COMMANDS,
  ...SERVER_COMMANDS,
  ...LOLWUT_COMMANDS,
  ...MONITOR_COMMANDS,
  ...SCRIPTING_COMMANDS,
  ...TRANSACTION_COMMANDS,
  ...REPLICATION_COMMANDS,
  ...PUBSUB_COMMANDS,
  ...CONNECTION_COMMANDS,
  ...ACL_COMMANDS,
  ...MODULE_COMMANDS,
  ...CLUSTER_COMMANDS,
  ...INTROSPECTION_COMMANDS,
];

const tables = new Map<string, CommandTable>();

/** The commands (and subcommands) a server of this version has. */
export function commandTable(era: Era): CommandTable {
  const id = `${era.product}-${era.version}`;
  let table = tables.get(id);
  if (table === undefined) {
    const name = recordingFor(era.product, era.version);
    table = name === undefined ? fromSpecs(era) : fromRecording(era, recording(name));
    tables.set(id, table);
  }
  return table;
}

/** The honeypot's specs of the version, by name (a spec's `since` leaves it out before then). */
function specsOf(era: Era): Map<string, CommandSpec> {
  const built = new Map<string, CommandSpec>();
  for (const spec of ALL) {
    if (spec.since !== undefined && era.before(spec.since)) continue;
    let resolved = spec;
    if (spec.subcommands !== undefined) {
      const subs: Record<string, SubcommandSpec> = {};
      for (const [name, sub] of Object.entries(spec.subcommands)) {
        if (sub.since === undefined || era.at(sub.since)) subs[name] = sub;
      }
      resolved = { ...spec, subcommands: subs };
    }
    built.set(spec.name, resolved);
  }
  return built;
}

/** No recording of the version: the specs as they are. */
function fromSpecs(era: Era): CommandTable {
  return specsOf(era);
}

/**
 * A command the real version has and the honeypot does not implement (yet): after the arity and
 * authentication checks the real server makes, it answers as the version answers an unknown
 * command, the same as a server whose operator renamed the command away (rename-command), which
 * is how exposed servers commonly lack commands. Visitors see no reply a real server could not
 * have given, and nothing is pretended to have run.
 */
function unimplemented(c: CommandContext): Reply {
  const bar = c.fullName.indexOf("|");
  if (bar >= 0) {
    return errorReply(
      unknownSubcommandText(c.era, c.fullName.slice(0, bar), c.args[1]!.toString("latin1")),
    );
  }
  return errorReply(
    unknownCommandText(
      c.era,
      c.args[0]!.toString("latin1"),
      c.args.slice(1).map((a) => a.toString("latin1")),
    ),
  );
}

/** Session flags a recorded command's COMMAND flags imply. */
function flagsOf(rec: RecordedCommand): CommandFlag[] {
  const out: CommandFlag[] = [];
  if (rec.flags.includes("no_auth") || rec.flags.includes("no-auth")) out.push("noauth");
  if (rec.flags.includes("write")) out.push("write");
  if (rec.flags.includes("denyoom")) out.push("denyoom");
  return out;
}

/**
 * The recorded table with the honeypot's handlers: the recorded commands in the recorded order,
 * each with its recorded arity (and 7.0+ subcommands with theirs). A spec whose `since`
 * excludes the version stays out.
 * The recorded table decides which commands exist: a spec it does not list is left out (WAIT on
 * 2.8, LOLWUT on KeyDB), except QUIT, which comes after as it is: before 7.0 processCommand
 * answered it before the table was looked up, so COMMAND never listed it.
 * A container whose `<C> HELP` was recorded answers it with the recorded bytes (withHelp).
 */
function fromRecording(era: Era, recordingOf: Recording): CommandTable {
  const recorded = recordingOf.commands;
  const specs = specsOf(era);
  const excluded = new Set(ALL.map((s) => s.name).filter((n) => !specs.has(n)));
  const built = new Map<string, CommandSpec>();
  for (const [name, rec] of recorded) {
    if (excluded.has(name)) continue;
    const spec = specs.get(name);
    // The recorded arity wins over the spec's (which stays the fallback without a recording).
    let resolved: CommandSpec =
      spec === undefined
        ? {
            name: rec.displayName,
            arity: rec.arity,
            category: "admin",
            flags: flagsOf(rec),
            handler: unimplemented,
          }
        : { ...spec, arity: rec.arity };
    if (rec.subcommands.size > 0) {
      // A spec with one handler for the whole container (CLUSTER on a server without cluster
      // support) answers every recorded subcommand, after that subcommand's arity.
      const whole = spec?.subcommands === undefined ? spec?.handler : undefined;
      const subs: Record<string, SubcommandSpec> = {};
      for (const [subName, subRec] of rec.subcommands) {
        const own = spec?.subcommands?.[subName];
        subs[subName] =
          own === undefined
            ? { arity: subRec.arity, handler: whole ?? unimplemented }
            : { ...own, arity: subRec.arity };
      }
      resolved = { ...resolved, subcommands: subs };
    }
    const help = recordingOf.help.get(name);
    built.set(name, help === undefined ? resolved : withHelp(resolved, help));
  }
  const quit = specs.get("quit");
  if (quit !== undefined && !built.has("quit")) built.set("quit", quit);
  return built;
}

/**
 * A container whose `<C> HELP` a real build of the version answered: HELP answers the recorded
 * bytes, the one place any HELP is answered where a recording exists (the same bytes in RESP2
 * and RESP3: an array of status lines). Whatever the version checks first still comes first,
 * as for any subcommand: the command's existence and arity, the 7.0+ subcommand table's
 * unknown-subcommand and arity errors, DEBUG's 7.0+ gate (session.ts). Every container checks
 * `argc == 2` for HELP; a HELP with more words goes to the handler as before.
 */
function withHelp(spec: CommandSpec, bytes: Buffer): CommandSpec {
  const reply: Reply = { type: "raw", bytes };
  const answer: Handler = () => reply;
  if (spec.subcommands !== undefined) {
    const own = spec.subcommands.help;
    return {
      ...spec,
      subcommands: {
        ...spec.subcommands,
        help: own === undefined ? { arity: 2, handler: answer } : { ...own, handler: answer },
      },
    };
  }
  const handler = spec.handler!;
  return {
    ...spec,
    handler: (c) =>
      c.args.length === 2 && c.args[1]!.toString("latin1").toLowerCase() === "help"
        ? reply
        : handler(c),
  };
}

/** What runs for a request: the handler, the name errors and stats use, and any 7.0+ gate. */
export interface ResolvedCommand {
  handler: Handler;
  /** `config|get` where the version has subcommand names (7.0+), else `config`. */
  fullName: string;
  gated?: "MODULE" | "DEBUG";
}

/** A command without subcommands resolves to itself: one shared answer per spec. */
const PLAIN = new WeakMap<CommandSpec, ResolvedCommand>();

/**
 * The handler for a request to `spec` (a container's subcommand: CONFIG GET …), or the error a
 * real server of this version gives for the subcommand asked.
 */
export function resolveCommand(
  spec: CommandSpec,
  args: Buffer[],
  era: Era,
): ResolvedCommand | { error: string; rejected?: string } {
  const plain = (): ResolvedCommand => {
    let out = PLAIN.get(spec);
    if (out === undefined) {
      out = { handler: spec.handler!, fullName: spec.name };
      if (spec.gated !== undefined) out.gated = spec.gated;
      PLAIN.set(spec, out);
    }
    return out;
  };
  if (spec.subcommands === undefined) return plain();
  if (args.length === 1 && spec.handler !== undefined) return plain();
  const subName = args[1]!.toString("latin1");
  const sub = spec.subcommands[subName.toLowerCase()];
  const fullName = era.subcommandTable ? `${spec.name}|${subName.toLowerCase()}` : spec.name;
  if (era.subcommandTable) {
    if (sub === undefined) return { error: unknownSubcommandText(era, spec.name, subName) };
    // A known subcommand refused for its arity is counted against it (rejected_calls); an
    // unknown one against nothing.
    if (!arityOk(sub.arity, args.length)) return { error: arityText(fullName), rejected: fullName };
  } else {
    const arity = sub?.arityBefore7 ?? sub?.arity;
    if (sub === undefined || !arityOk(arity!, args.length)) {
      if (spec.legacyErrors !== undefined && era.before("5.0")) {
        const legacy = sub === undefined ? spec.legacyErrors.unknown : spec.legacyErrors.arity;
        return { error: legacy(subName, era) };
      }
      return {
        error:
          sub === undefined
            ? unknownSubcommandText(era, spec.name, subName)
            : subcommandSyntaxText(era, spec.name, subName),
      };
    }
  }
  const out: ResolvedCommand = { handler: sub.handler, fullName };
  if (sub.gated !== undefined) out.gated = sub.gated;
  return out;
}
