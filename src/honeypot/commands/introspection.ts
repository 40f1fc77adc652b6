/**
 * COMMAND, COMMAND COUNT / INFO / LIST (server.c): the version's command table, which handlers
 * get as `c.commands`, described as that version describes a command (6 fields; 7 with ACL
 * categories; 10 in 7.0+). It lists what the honeypot implements, not a full server's ~240
 * commands; COMMAND COUNT agrees with it.
 */
import { arr, bulk, int, simple } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import type { Era } from "../personas/era.js";
import { integer, nullBulk, type Reply, textArray } from "./reply.js";
import {
  arityAt,
  type CommandCategory,
  type CommandContext,
  type CommandSpec,
  inCategory,
  type KeyPositions,
} from "./spec.js";

/** The flags and ACL categories COMMAND INFO shows for a command of this kind. */
function describe(spec: CommandSpec, era: Era): { flags: string[]; categories: string[] } {
  switch (spec.category) {
    case "pubsub":
      return {
        flags: ["pubsub", "noscript", "loading", "stale"],
        categories: ["@pubsub", "@slow"],
      };
    case "scripting":
      return { flags: ["noscript", "stale", "skip_monitor"], categories: ["@slow", "@scripting"] };
    case "connection": {
      const flags = ["noscript", "loading", "stale", "fast"];
      if (spec.flags?.includes("noauth") && era.acl)
        flags.push(era.at("7.0") ? "no_auth" : "no-auth");
      return { flags, categories: ["@fast", "@connection"] };
    }
    case "admin":
      return {
        flags: ["admin", "noscript", "loading", "stale"],
        categories: ["@admin", "@slow", "@dangerous"],
      };
    default: {
      const group = `@${spec.category}`;
      return spec.flags?.includes("write")
        ? {
            flags: spec.flags.includes("denyoom") ? ["write", "denyoom"] : ["write"],
            categories: ["@write", group, "@slow"],
          }
        : { flags: ["readonly", "fast"], categories: ["@read", group, "@fast"] };
    }
  }
}

/** Key positions of a command: its own, else one key first for data commands, else none. */
function keyPositions(spec: CommandSpec): KeyPositions {
  if (spec.keys !== undefined) return spec.keys;
  return DATA_CATEGORIES.has(spec.category) ? [1, 1, 1] : [0, 0, 0];
}

const DATA_CATEGORIES: ReadonlySet<CommandCategory> = new Set([
  "string",
  "list",
  "hash",
  "set",
  "sortedset",
  "bitmap",
  "hyperloglog",
  "keyspace",
]);

/** One COMMAND INFO entry in the version's shape (6 fields; 7 with ACL categories; 10 in 7.0+). */
function commandEntry(
  spec: CommandSpec,
  era: Era,
  fullName = spec.name,
  arity = arityAt(spec.arity, era),
): RespValue {
  const { flags, categories } = describe(spec, era);
  const [first, last, step] = fullName.includes("|") ? [0, 0, 0] : keyPositions(spec);
  const fields: RespValue[] = [
    bulk(fullName),
    int(arity),
    arr(flags.map((f) => simple(f))),
    int(first),
    int(last),
    int(step),
  ];
  if (era.acl) fields.push(arr(categories.map((c) => simple(c))));
  if (era.at("7.0")) {
    const subs = fullName.includes("|")
      ? []
      : Object.entries(spec.subcommands ?? {}).map(([sub, s]) =>
          commandEntry(spec, era, `${spec.name}|${sub}`, s.arity),
        );
    fields.push(arr([]), arr([]), arr(subs));
  }
  return arr(fields);
}

function commandAll(c: CommandContext): Reply {
  return arr([...c.commands.values()].map((spec) => commandEntry(spec, c.era)));
}

function commandInfo(c: CommandContext): Reply {
  return arr(
    c.args.slice(2).map((a) => {
      const spec = c.commands.get(a.toString("latin1").toLowerCase());
      return spec === undefined ? nullBulk() : commandEntry(spec, c.era);
    }),
  );
}

export const INTROSPECTION_COMMANDS: CommandSpec[] = inCategory("admin", [
  {
    name: "command",
    arity: -1,
    handler: commandAll,
    subcommands: {
      count: { arity: 2, since: "2.8.13", handler: (c) => integer(c.commands.size) },
      info: { arity: -3, since: "2.8.13", handler: commandInfo },
      list: { arity: -2, since: "7.0", handler: (c) => textArray([...c.commands.keys()]) },
    },
  },
]);
