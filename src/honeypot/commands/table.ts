/**
 * The command table of a version: every command the honeypot answers, one file per family as
 * Redis keeps them (t_string.c, t_list.c … here strings.ts, lists.ts …), with the commands and
 * subcommands that version did not have left out (they get the era's "unknown command").
 * Replies and error texts are Redis 7.0's (checked against a real 7.0.15 by the fidelity
 * suite's differential test) with the earlier wordings where a version changed them. Nothing a
 * visitor asks for is executed: files, replication, modules and scripts are only reported, as
 * each handler's effect for the recorder.
 *
 * COMMAND describes this table (a session hands it to handlers as `commands`), so it lists
 * what the honeypot implements, not a full server's ~240 commands.
 */

import type { Era } from "../personas/era.js";
import { arityText, subcommandSyntaxText, unknownSubcommandText } from "../personas/texts.js";
import { ACL_COMMANDS } from "./acl.js";
import { BIT_COMMANDS } from "./bits.js";
import { CONNECTION_COMMANDS } from "./connection.js";
import { HASH_COMMANDS } from "./hashes.js";
import { HYPERLOGLOG_COMMANDS } from "./hyperloglog.js";
import { INTROSPECTION_COMMANDS } from "./introspection.js";
import { KEY_COMMANDS } from "./keys.js";
import { LIST_COMMANDS } from "./lists.js";
import { MODULE_COMMANDS } from "./module.js";
import { PUBSUB_COMMANDS } from "./pubsub.js";
import { REPLICATION_COMMANDS } from "./replication.js";
import { SCRIPTING_COMMANDS } from "./scripting.js";
import { SERVER_COMMANDS } from "./server.js";
import { SET_COMMANDS } from "./sets.js";
import { SORT_COMMANDS } from "./sort.js";
import {
  arityOk,
  type CommandSpec,
  type CommandTable,
  type Handler,
  type SubcommandSpec,
} from "./spec.js";
import { STRING_COMMANDS } from "./strings.js";
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
  ...KEY_COMMANDS,
  ...SORT_COMMANDS,
  ...SERVER_COMMANDS,
  ...SCRIPTING_COMMANDS,
  ...REPLICATION_COMMANDS,
  ...PUBSUB_COMMANDS,
  ...CONNECTION_COMMANDS,
  ...ACL_COMMANDS,
  ...MODULE_COMMANDS,
  ...INTROSPECTION_COMMANDS,
];

const tables = new Map<string, CommandTable>();

/** The commands (and subcommands) a server of this version has. */
export function commandTable(era: Era): CommandTable {
  const id = `${era.product}-${era.version}`;
  let table = tables.get(id);
  if (table === undefined) {
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
    table = built;
    tables.set(id, table);
  }
  return table;
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
): ResolvedCommand | { error: string } {
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
    if (!arityOk(sub.arity, args.length)) return { error: arityText(fullName) };
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
