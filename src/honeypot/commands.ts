/**
 * The command table of a version: every command the honeypot answers, with the commands and
 * subcommands that version did not have left out (they get the era's "unknown command"), and
 * COMMAND / COMMAND INFO built from it. COMMAND lists what the honeypot implements, not a full
 * server's ~240 commands; COMMAND COUNT agrees with it.
 */
import { arr, bulk, int, simple } from "../resp/index.js";
import type { RespValue } from "../resp/types.js";
import { KEY_COMMANDS } from "./commands-keys.js";
import { SERVER_COMMANDS, setIntrospection } from "./commands-server.js";
import {
  arityAt,
  type CommandContext,
  type CommandSpec,
  type SubcommandSpec,
} from "./commands-table.js";
import type { Era } from "./personas/era.js";

export type CommandTable = ReadonlyMap<string, CommandSpec>;

const ALL: CommandSpec[] = [...KEY_COMMANDS, ...SERVER_COMMANDS];

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

/** Key positions (first, last, step) for COMMAND INFO; commands not listed take no keys. */
const MULTI_KEY = new Set(["mget", "del", "unlink", "exists"]);
const PAIRED_KEYS = new Set(["mset", "msetnx"]);
const TWO_KEYS = new Set(["rename", "renamenx"]);
const KEYLESS = new Set(["keys", "scan", "dbsize", "randomkey", "select", "flushdb", "flushall"]);
const NAMES_WITH_KEY = new Set(KEY_COMMANDS.map((s) => s.name));

function keyPositions(name: string): [number, number, number] {
  if (MULTI_KEY.has(name)) return [1, -1, 1];
  if (PAIRED_KEYS.has(name)) return [1, -1, 2];
  if (TWO_KEYS.has(name)) return [1, 2, 1];
  if (name === "object" || name === "memory") return [2, 2, 1];
  if (NAMES_WITH_KEY.has(name) && !KEYLESS.has(name)) return [1, 1, 1];
  return [0, 0, 0];
}

/** ACL category of a data command's type (`@string`, `@list` …), by name. */
function dataGroup(name: string): string {
  if (/^(l|r)(push|pop|pushx|range|len|index)$|^l(range|len|index)$/.test(name)) return "@list";
  if (name.startsWith("h")) return "@hash";
  if (/^s(add|rem|members|card|ismember)$/.test(name)) return "@set";
  if (
    /^(get|set|m?setnx|setex|psetex|getset|getdel|mget|mset|append|strlen|getrange|incr|decr|incrby|decrby|incrbyfloat)$/.test(
      name,
    )
  ) {
    return "@string";
  }
  return "@keyspace";
}

const CONNECTION = new Set(["ping", "echo", "auth", "hello", "quit", "reset", "select", "client"]);
const PUBSUB = new Set(["publish", "subscribe", "psubscribe", "unsubscribe", "punsubscribe"]);
const SCRIPTING = new Set(["eval", "evalsha", "script"]);

function describe(spec: CommandSpec, era: Era): { flags: string[]; categories: string[] } {
  const name = spec.name;
  const write = spec.flags?.includes("write") ?? false;
  if (PUBSUB.has(name))
    return { flags: ["pubsub", "noscript", "loading", "stale"], categories: ["@pubsub", "@slow"] };
  if (SCRIPTING.has(name))
    return { flags: ["noscript", "stale", "skip_monitor"], categories: ["@slow", "@scripting"] };
  if (CONNECTION.has(name)) {
    const flags = ["noscript", "loading", "stale", "fast"];
    if (spec.flags?.includes("noauth") && era.acl)
      flags.push(era.at("7.0") ? "no_auth" : "no-auth");
    return { flags, categories: ["@fast", "@connection"] };
  }
  if (NAMES_WITH_KEY.has(name)) {
    const group = dataGroup(name);
    return write
      ? {
          flags: spec.flags?.includes("denyoom") ? ["write", "denyoom"] : ["write"],
          categories: ["@write", group, "@slow"],
        }
      : { flags: ["readonly", "fast"], categories: ["@read", group, "@fast"] };
  }
  return {
    flags: ["admin", "noscript", "loading", "stale"],
    categories: ["@admin", "@slow", "@dangerous"],
  };
}

/** One COMMAND INFO entry in the version's shape (6 fields; 7 with ACL categories; 10 in 7.0+). */
function commandInfo(
  spec: CommandSpec,
  era: Era,
  fullName = spec.name,
  arity = arityAt(spec.arity, era),
): RespValue {
  const { flags, categories } = describe(spec, era);
  const [first, last, step] = fullName.includes("|") ? [0, 0, 0] : keyPositions(spec.name);
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
          commandInfo(spec, era, `${spec.name}|${sub}`, s.arity),
        );
    fields.push(arr([]), arr([]), arr(subs));
  }
  return arr(fields);
}

setIntrospection({
  names: (c: CommandContext) => [...commandTable(c.era).keys()],
  info: (c: CommandContext, name: string) => {
    const spec = commandTable(c.era).get(name);
    return spec === undefined ? undefined : commandInfo(spec, c.era);
  },
});
