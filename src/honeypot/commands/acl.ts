/**
 * ACL (acl.c), 6.0+: one user, `default`, as a server without ACL rules shows it.
 */
import { createHash } from "node:crypto";
import { bulk } from "../../resp/index.js";
import { textArray } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory } from "./spec.js";

/** The default user as ACL LIST shows it: nopass on open personas, else the password's hash. */
function aclUserLine(c: CommandContext): string {
  const secret =
    c.persona.auth === "password"
      ? `#${createHash("sha256")
          .update(c.state.config.get("requirepass") ?? "")
          .digest("hex")}`
      : "nopass";
  const channels = c.era.at("6.2") ? " &*" : "";
  return `user default on ${secret} ~*${channels} +@all`;
}

export const ACL_COMMANDS: CommandSpec[] = inCategory("admin", [
  {
    name: "acl",
    arity: -2,
    since: "6.0",
    subcommands: {
      whoami: { arity: 2, handler: () => bulk("default") },
      users: { arity: 2, handler: () => textArray(["default"]) },
      list: { arity: 2, handler: (c) => textArray([aclUserLine(c)]) },
    },
  },
]);
