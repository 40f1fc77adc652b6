/**
 * COMMAND and its subcommands (server.c): COMMAND, COUNT, INFO, DOCS, LIST [FILTERBY …],
 * GETKEYS and GETKEYSANDFLAGS, answered from the recording of the persona's version
 * (personas/tables.ts: the real server's own COMMAND and COMMAND DOCS replies), so they are the
 * bytes that server sends. Key positions for GETKEYS come from the recorded key specs (7.0+) or
 * first/last/step (before 7.0).
 *
 * Known approximations: where a real server falls back to a command's own key finder
 * (getkeys_proc: SET, SORT, MIGRATE, GEORADIUS … whose key specs are incomplete or have
 * variable flags, and before 7.0 every "movablekeys" command), GETKEYS answers what the key
 * specs or first/last/step give (SET's flags are then the spec's, not OW/update).
 * COMMAND HELP is not answered (it says the subcommand is unknown).
 *
 * A persona without a recording (none today: every line has one) falls back to describing the
 * honeypot's own command table (commands/spec.ts).
 */
import { arr, bulk, encodeValue, int, map, simple } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { globMatch } from "../keyspace.js";
import type { Era } from "../personas/era.js";
import { pairs, type RecordedCommand, type Recording } from "../personas/tables.js";
import {
  EMPTY_ARRAY,
  errorReply,
  integer,
  nullBulk,
  type Reply,
  syntaxError,
  textArray,
} from "./reply.js";
import {
  arityAt,
  arityOk,
  type CommandCategory,
  type CommandContext,
  type CommandSpec,
  type CommandTable,
  inCategory,
  type KeyPositions,
} from "./spec.js";

// ---- Without a recording: the honeypot's own table, described as the version would. ----

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
    case "transaction":
      return {
        flags: ["noscript", "loading", "stale", "fast"],
        categories: ["@fast", "@transaction"],
      };
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
  "stream",
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

// ---- From the recording. ----

/**
 * The encoded COMMAND reply of a version's table, per protocol (about 100 KB in 7.x: built
 * once). Commands the persona lacks on purpose (DEBUG before 7.0, renamed away) are left out,
 * as rename-command leaves them out of a real server's table.
 */
const encodedAll = new WeakMap<CommandTable, Map<number, Buffer>>();

/** A recorded command the persona's table leaves out (renamed away). */
function hidden(c: CommandContext, cmd: RecordedCommand): boolean {
  const bar = cmd.name.indexOf("|");
  return !c.commands.has(bar < 0 ? cmd.name : cmd.name.slice(0, bar));
}

function wholeTable(c: CommandContext, rec: Recording): Reply {
  let byProto = encodedAll.get(c.commands);
  if (byProto === undefined) {
    byProto = new Map();
    encodedAll.set(c.commands, byProto);
  }
  let bytes = byProto.get(c.state.proto);
  if (bytes === undefined) {
    const all = rec.commandReply(c.state.proto);
    const kept = [...rec.commands.values()].filter((cmd) => !hidden(c, cmd));
    const reply =
      kept.length === rec.commands.size
        ? all
        : arr(kept.map((cmd) => rec.entry(cmd, c.state.proto)));
    bytes = encodeValue(reply, c.state.proto);
    byProto.set(c.state.proto, bytes);
  }
  if (!c.replyFits(bytes.length)) return c.overLimit();
  return { type: "raw", bytes };
}

/** lookupCommandBySds: a name, or 7.0+ `container|sub`. */
function lookupByName(rec: Recording, era: Era, name: string): RecordedCommand | undefined {
  const lower = name.toLowerCase();
  const bar = era.subcommandTable ? lower.indexOf("|") : -1;
  if (bar < 0) return rec.commands.get(lower);
  if (lower.indexOf("|", bar + 1) >= 0) return undefined;
  return rec.commands.get(lower.slice(0, bar))?.subcommands.get(lower.slice(bar + 1));
}

/** lookupCommand(argv): the container's subcommand when it has them (7.0+), else the command. */
function lookupByArgs(rec: Recording, words: string[]): RecordedCommand | undefined {
  const base = rec.commands.get(words[0]!.toLowerCase());
  if (base === undefined || words.length === 1 || base.subcommands.size === 0) return base;
  return base.subcommands.get(words[1]!.toLowerCase());
}

function recorded(c: CommandContext): Recording | undefined {
  return c.persona.recording;
}

function commandAll(c: CommandContext): Reply {
  const rec = recorded(c);
  if (rec !== undefined) return wholeTable(c, rec);
  return arr([...c.commands.values()].map((spec) => commandEntry(spec, c.era)));
}

function commandCount(c: CommandContext): Reply {
  const rec = recorded(c);
  if (rec === undefined) return integer(c.commands.size);
  let n = 0;
  for (const cmd of rec.commands.values()) if (!hidden(c, cmd)) n++;
  return integer(n);
}

function commandInfo(c: CommandContext): Reply {
  const rec = recorded(c);
  if (rec === undefined) {
    return arr(
      c.args.slice(2).map((a) => {
        const spec = c.commands.get(a.toString("latin1").toLowerCase());
        return spec === undefined ? nullBulk() : commandEntry(spec, c.era);
      }),
    );
  }
  if (c.args.length === 2) return wholeTable(c, rec);
  return arr(
    c.args.slice(2).map((_, i) => {
      const cmd = lookupByName(rec, c.era, c.arg(i + 2));
      return cmd === undefined || hidden(c, cmd) ? nullBulk() : rec.entry(cmd, c.state.proto);
    }),
  );
}

/** COMMAND DOCS [name ...] (7.0+): a map of full name → docs, unknown names left out. */
function commandDocs(c: CommandContext): Reply {
  const rec = recorded(c);
  const docs = rec?.docs(c.state.proto);
  if (rec === undefined || docs === undefined) return map([]);
  const pairs: Array<[RespValue, RespValue]> = [];
  if (c.args.length === 2) {
    for (const [name, doc] of docs) pairs.push([bulk(name), doc]);
  } else {
    for (let i = 2; i < c.args.length; i++) {
      const cmd = lookupByName(rec, c.era, c.arg(i));
      const doc = cmd === undefined ? undefined : docFor(docs, cmd.name);
      if (cmd !== undefined && doc !== undefined) pairs.push([bulk(cmd.name), doc]);
    }
  }
  return map(pairs);
}

/** A subcommand's docs sit in its container's `subcommands` map. */
function docFor(docs: ReadonlyMap<string, RespValue>, name: string): RespValue | undefined {
  const bar = name.indexOf("|");
  if (bar < 0) return docs.get(name);
  return pairs(pairs(docs.get(name.slice(0, bar))).get("subcommands")).get(name);
}

/** COMMAND LIST [FILTERBY MODULE name | ACLCAT cat | PATTERN pattern] (7.0+). */
function commandList(c: CommandContext): Reply {
  const rec = recorded(c);
  if (rec === undefined) return textArray([...c.commands.keys()]);
  let filter: ((cmd: RecordedCommand) => boolean) | undefined;
  for (let i = 2; i < c.args.length; i++) {
    const moreArgs = c.args.length - 1 - i;
    if (c.arg(i).toLowerCase() !== "filterby" || moreArgs !== 2) return syntaxError();
    const type = c.arg(i + 1).toLowerCase();
    const value = c.arg(i + 2);
    if (type === "module")
      filter = () => false; // no modules are loaded
    else if (type === "aclcat") {
      const cat = `@${value.toLowerCase()}`;
      filter = (cmd) => cmd.categories.includes(cat);
    } else if (type === "pattern") {
      const pattern = value.toLowerCase();
      filter = (cmd) => globMatch(pattern, cmd.name);
    } else return syntaxError();
    i += 2;
  }
  const out: string[] = [];
  for (const cmd of rec.commands.values()) {
    if (hidden(c, cmd)) continue;
    if (filter === undefined || filter(cmd)) out.push(cmd.name);
    for (const sub of cmd.subcommands.values()) {
      if (filter === undefined || filter(sub)) out.push(sub.name);
    }
  }
  return textArray(out);
}

/**
 * Key positions of a request as getKeysUsingKeySpecs finds them (7.0+): each key spec's begin
 * search (an index, or a keyword searched from a position) and find-keys (a range, or a count
 * read from the request). Undefined where a spec does not fit the request (a syntax error).
 */
function keysFromSpecs(
  cmd: RecordedCommand,
  words: string[],
): Array<{ pos: number; flags: RespValue }> | undefined {
  const argc = words.length;
  const keys: Array<{ pos: number; flags: RespValue }> = [];
  for (const spec of cmd.keySpecs) {
    if (spec.flags.includes("not_key")) continue;
    let first = 0;
    if (spec.begin.type === "index") first = spec.begin.pos;
    else if (spec.begin.type === "keyword") {
      const { keyword, startfrom } = spec.begin;
      const start = startfrom > 0 ? startfrom : argc + startfrom;
      const end = startfrom > 0 ? argc - 1 : 1;
      for (let i = start; i !== end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argc || i < 1) break;
        if (words[i]!.toLowerCase() === keyword.toLowerCase()) {
          first = i + 1;
          break;
        }
      }
      if (first === 0) continue;
    } else return undefined;
    let last: number;
    let step: number;
    if (spec.find.type === "range") {
      step = spec.find.keystep;
      const { lastkey, limit } = spec.find;
      if (lastkey >= 0) last = first + lastkey;
      else if (limit === 0) last = argc + lastkey;
      else last = first + (Math.floor((argc - first) / limit) + lastkey);
    } else if (spec.find.type === "keynum") {
      step = spec.find.keystep;
      const idx = first + spec.find.keynumidx;
      if (spec.find.keynumidx >= argc || idx >= argc) return undefined;
      const text = words[idx]!;
      if (!/^(0|-?[1-9][0-9]{0,18})$/.test(text)) return undefined;
      const n = Number(text);
      if (n < 0) return undefined;
      first += spec.find.firstkey;
      last = first + n - 1;
    } else return undefined;
    if (last >= argc || last < first || first >= argc) return undefined;
    for (let i = first; i <= last; i += step) {
      if (i >= argc || i < first) continue;
      keys.push({ pos: i, flags: spec.flagsValue });
    }
    if (spec.flags.includes("incomplete")) return undefined;
  }
  return keys;
}

/** COMMAND GETKEYS / GETKEYSANDFLAGS full-command … */
function getKeys(withFlags: boolean) {
  return (c: CommandContext): Reply => {
    const rec = recorded(c);
    const words = c.args.slice(2).map((_, i) => c.arg(i + 2));
    const argv = c.args.slice(2);
    if (rec === undefined) return errorReply("ERR Invalid command specified");
    const cmd = c.era.subcommandTable
      ? lookupByArgs(rec, words)
      : rec.commands.get(words[0]!.toLowerCase());
    if (cmd === undefined || hidden(c, cmd)) return errorReply("ERR Invalid command specified");
    const hasKeys = c.era.subcommandTable
      ? cmd.flags.includes("movablekeys") || cmd.keySpecs.some((s) => !s.flags.includes("not_key"))
      : cmd.flags.includes("movablekeys") || cmd.first !== 0;
    // 3.0–4.0 neither checked this nor refused a request without keys (an empty array).
    const legacy = c.era.before("5.0");
    if (!hasKeys && !legacy) return errorReply("ERR The command has no key arguments");
    if (!arityOk(cmd.arity, words.length)) {
      return errorReply("ERR Invalid number of arguments specified for command");
    }
    let keys: Array<{ pos: number; flags?: RespValue }> | undefined;
    if (c.era.subcommandTable) {
      keys = keysFromSpecs(cmd, words);
      if (keys === undefined && cmd.flags.includes("no_mandatory_keys")) keys = [];
    } else {
      const last = cmd.last < 0 ? words.length + cmd.last : cmd.last;
      keys = [];
      if (cmd.first > 0) {
        for (let i = cmd.first; i <= last && i < words.length; i += Math.max(1, cmd.step)) {
          keys.push({ pos: i });
        }
      }
      // 5.0–6.2 refuse a request that names no key too.
      if (keys.length === 0 && !legacy) keys = undefined;
    }
    if (keys === undefined) return errorReply("ERR Invalid arguments specified for command");
    return arr(
      keys.map(({ pos, flags }) =>
        withFlags ? arr([bulk(argv[pos]!), flags ?? EMPTY_ARRAY]) : bulk(argv[pos]!),
      ),
    );
  };
}

export const INTROSPECTION_COMMANDS: CommandSpec[] = inCategory("admin", [
  {
    name: "command",
    arity: -1,
    handler: commandAll,
    // Arity here is the fallback: a recorded table's arity wins (commands/table.ts).
    subcommands: {
      count: { arity: 2, since: "2.8.13", handler: commandCount },
      info: { arity: -2, arityBefore7: -3, since: "2.8.13", handler: commandInfo },
      getkeys: { arity: -3, since: "3.0", handler: getKeys(false) },
      getkeysandflags: { arity: -3, since: "7.0", handler: getKeys(true) },
      list: { arity: -2, since: "7.0", handler: commandList },
      docs: { arity: -2, since: "7.0", handler: commandDocs },
    },
    legacyErrors: {
      unknown: () => "ERR Unknown subcommand or wrong number of arguments.",
      arity: () => "ERR Unknown subcommand or wrong number of arguments.",
    },
  },
]);
