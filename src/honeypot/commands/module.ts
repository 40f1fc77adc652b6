/**
 * MODULE (module.c): nothing is loaded. MODULE LOAD reports the path for the recorder (the
 * last step of the rogue-master attack) and fails as a server fails to load a bad module.
 */
import { MODULE_LOAD_FAILED } from "../personas/texts.js";
import { EMPTY_ARRAY, errorReply, type Reply } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory } from "./spec.js";

function moduleLoad(c: CommandContext): Reply {
  c.effect = { kind: "module_load", path: c.arg(2) };
  return errorReply(MODULE_LOAD_FAILED);
}

export const MODULE_COMMANDS: CommandSpec[] = inCategory("admin", [
  {
    name: "module",
    arity: -2,
    since: "4.0",
    subcommands: {
      list: { arity: 2, handler: () => EMPTY_ARRAY },
      load: { arity: -3, gated: "MODULE", handler: moduleLoad },
      loadex: { arity: -3, since: "7.0", gated: "MODULE", handler: moduleLoad },
      unload: {
        arity: 3,
        gated: "MODULE",
        handler: () => errorReply("ERR Error unloading module: no such module with that name"),
      },
    },
  },
]);
