/**
 * The command table of a version: every command the honeypot answers, with the commands and
 * subcommands that version did not have left out (they get the era's "unknown command").
 * COMMAND describes this table (a session hands it to handlers as `commands`), so it lists
 * what the honeypot implements, not a full server's ~240 commands.
 */

import type { Era } from "../personas/era.js";
import { ACL_COMMANDS } from "./acl.js";
import { CONNECTION_COMMANDS } from "./connection.js";
import { INTROSPECTION_COMMANDS } from "./introspection.js";
import { KEY_COMMANDS } from "./keys.js";
import { MODULE_COMMANDS } from "./module.js";
import { PUBSUB_COMMANDS } from "./pubsub.js";
import { REPLICATION_COMMANDS } from "./replication.js";
import { SCRIPTING_COMMANDS } from "./scripting.js";
import { SERVER_COMMANDS } from "./server.js";
import type { CommandSpec, CommandTable, SubcommandSpec } from "./spec.js";

/** Every family's commands, in the order COMMAND lists them. */
const ALL: CommandSpec[] = [
  ...KEY_COMMANDS,
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
