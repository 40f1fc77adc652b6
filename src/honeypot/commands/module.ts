/**
 * MODULE (module.c) and the commands a "loaded" module registers. Nothing is ever loaded or
 * executed. MODULE LOAD of the payload a rogue master sent (kept by the server's replica link,
 * capture.ts) succeeds, as on a real server, where the chain saved it (dir/dbfilename when it
 * arrived) and where the version allows it (before 7.0, or with enable-module-command yes; a
 * 7.0+ default refuses MODULE before this, in the session). The module's name and commands are
 * what its binary's strings say (`system`, `system.exec`, `system.rev`); MODULE LIST shows it,
 * MODULE UNLOAD removes it, and its commands are accepted, answered with fixed plausible
 * replies and reported as effects, so the attacker's next commands (a downloader URL, a
 * miner's command line) are recorded as what they are. Any other MODULE LOAD fails as a server
 * fails to load a bad module, and reports the path.
 */
import path from "node:path";
import { arr, bulk, int, type RespValue } from "../../resp/index.js";
import { arityText, MODULE_LOAD_FAILED, SYNTAX_ERROR } from "../personas/texts.js";
import { bulkText, EMPTY_ARRAY, errorReply, OK, pairsMap, type Reply } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, type SessionState } from "./spec.js";

/** Modules one session may have loaded (each is one payload the link kept). */
const MAX_MODULES = 4;

function moduleLoad(c: CommandContext): Reply {
  const given = c.arg(2);
  const state = c.state;
  const payload = state.replication.payload;
  const dir = state.config.get("dir") ?? "/";
  const full = path.posix.resolve(dir, given);
  state.modules ??= [];
  const modules = state.modules;
  if (
    payload === undefined ||
    payload.path !== full ||
    payload.module === undefined ||
    modules.length >= MAX_MODULES ||
    modules.some((m) => m.name === payload.module)
  ) {
    c.effect = { kind: "module_load", path: given };
    return errorReply(MODULE_LOAD_FAILED);
  }
  modules.push({
    name: payload.module,
    path: given,
    sha256: payload.sha256,
    commands: payload.commands,
  });
  c.effect = {
    kind: "module_load",
    path: given,
    loaded: true,
    module: payload.module,
    sha256: payload.sha256,
  };
  return OK;
}

function moduleList(c: CommandContext): Reply {
  const modules = c.state.modules ?? [];
  return arr(
    modules.map((m) => {
      const fields: Array<[string, RespValue]> = [
        ["name", bulkText(m.name)],
        ["ver", int(1)],
      ];
      // 7.0 added the path as given to MODULE LOAD and its arguments.
      if (c.era.at("7.0")) fields.push(["path", bulkText(m.path)], ["args", EMPTY_ARRAY]);
      return pairsMap(fields);
    }),
  );
}

function moduleUnload(c: CommandContext): Reply {
  const modules = c.state.modules ?? [];
  const at = modules.findIndex((m) => m.name === c.arg(2));
  if (at < 0) return errorReply("ERR Error unloading module: no such module with that name");
  modules.splice(at, 1);
  return OK;
}

/**
 * Fixed output for the commands an attacker checks a shell with, as a Debian package's
 * server (user redis, uid 999 on a small image) would print them; anything else prints nothing.
 */
const SHELL_OUTPUT: Record<string, string> = {
  id: "uid=999(redis) gid=999(redis) groups=999(redis)\n",
  whoami: "redis\n",
  pwd: "/var/lib/redis\n",
  hostname: "localhost\n",
  "uname -a":
    "Linux localhost 5.10.0-30-amd64 #1 SMP Debian 5.10.218-1 (2024-06-01) x86_64 GNU/Linux\n",
  uname: "Linux\n",
};

/** A loaded module's command: recorded as an effect, answered, never executed. */
function moduleCommand(c: CommandContext): Reply {
  const name = c.fullName;
  const owner = c.state.modules?.find((m) => m.commands.includes(name));
  const args = c.args.slice(1).map((a) => a.toString("latin1"));
  c.effect = { kind: "module_command", module: owner?.name ?? "", command: name, args: args };
  const verb = name.slice(name.indexOf(".") + 1);
  // A reverse shell replaces the server process with /bin/sh: the connection just ends.
  if (/^rev/.test(verb)) {
    if (c.args.length !== 3) return errorReply(arityText(name));
    c.close = true;
    return { type: "raw", bytes: Buffer.alloc(0) };
  }
  if (/exec|shell|cmd|run|system|eval/.test(verb)) {
    if (c.args.length !== 2) return errorReply(arityText(name));
    return bulk(Buffer.from(SHELL_OUTPUT[args[0]!.trim()] ?? "", "latin1"));
  }
  return OK;
}

/** One spec for every module command (arity -1, as RedisModule_CreateCommand registers). */
const MODULE_COMMAND_SPEC: CommandSpec = {
  name: "",
  arity: -1,
  category: "admin",
  handler: moduleCommand,
};
const SPECS = new Map<string, CommandSpec>();

/** The spec of a command a module loaded in this session registered, if `lower` is one. */
export function moduleCommandSpec(state: SessionState, lower: string): CommandSpec | undefined {
  const modules = state.modules;
  if (modules === undefined || !modules.some((m) => m.commands.includes(lower))) return undefined;
  let spec = SPECS.get(lower);
  if (spec === undefined) {
    spec = { ...MODULE_COMMAND_SPEC, name: lower };
    if (SPECS.size < 1024) SPECS.set(lower, spec);
  }
  return spec;
}

export const MODULE_COMMANDS: CommandSpec[] = inCategory("admin", [
  {
    name: "module",
    arity: -2,
    since: "4.0",
    subcommands: {
      list: { arity: 2, handler: moduleList },
      load: { arity: -3, gated: "MODULE", handler: moduleLoad },
      loadex: { arity: -3, since: "7.0", gated: "MODULE", handler: moduleLoad },
      unload: { arity: 3, gated: "MODULE", handler: moduleUnload },
    },
    // 4.0's moduleCommand chain ended in shared.syntaxerr (no HELP either).
    legacyErrors: { unknown: () => SYNTAX_ERROR, arity: () => SYNTAX_ERROR },
  },
]);
